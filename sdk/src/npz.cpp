// .npz = a zip of .npy arrays, read and written with libzip (zip64 included). The .npy
// format: "\x93NUMPY", version major/minor, a little-endian header length (2 bytes in v1,
// 4 in v2/v3), a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape':
// (2, 3), } padded so the data start on a 64-byte boundary, then the raw data.
#include "medadv/npz.h"

#include <zip.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <system_error>

#include "medadv/atomic_file.h"
#include "medadv/error.h"

namespace medadv {

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npz reading assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr std::size_t kMaxHeader = 1 << 20;  // numpy's own headers are a few hundred bytes
constexpr std::size_t kAlign = 64;

// How an .npy dtype is read: `stored` holds the bytes as they are, `result` is what the
// caller gets (unsigned types torch lacks widen to the next signed type).
struct DtypeSpec {
  const char* code;  // without byte order
  torch::ScalarType stored;
  torch::ScalarType result;
  std::size_t itemsize;
};
const DtypeSpec kDtypes[] = {
    {"u1", torch::kUInt8, torch::kUInt8, 1},    {"i1", torch::kInt8, torch::kInt8, 1},
    {"b1", torch::kBool, torch::kBool, 1},      {"i2", torch::kInt16, torch::kInt16, 2},
    {"u2", torch::kInt16, torch::kInt32, 2},    {"i4", torch::kInt32, torch::kInt32, 4},
    {"u4", torch::kInt32, torch::kInt64, 4},    {"i8", torch::kInt64, torch::kInt64, 8},
    {"f2", torch::kHalf, torch::kHalf, 2},      {"f4", torch::kFloat32, torch::kFloat32, 4},
    {"f8", torch::kFloat64, torch::kFloat64, 8},
};

std::string libzip_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

// Throws InvalidInput naming the file and the array.
struct ArrayError {
  const std::string& context;
  const std::string& name;
  [[noreturn]] void operator()(const std::string& problem) const {
    throw InvalidInput(context + ": array '" + name + "': " + problem);
  }
};

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

// Parses the header's dict literal.
NpyHeader parse_header(const std::string& text, const ArrayError& fail) {
  std::size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto expect = [&](char c) {
    skip();
    if (i >= text.size() || text[i] != c) fail("corrupt .npy header (expected '" + std::string(1, c) + "'): " + text);
    ++i;
  };
  auto quoted = [&] {
    skip();
    if (i >= text.size() || (text[i] != '\'' && text[i] != '"')) fail("corrupt .npy header: " + text);
    const char q = text[i++];
    const auto close = text.find(q, i);
    if (close == std::string::npos) fail("corrupt .npy header: " + text);
    std::string s = text.substr(i, close - i);
    i = close + 1;
    return s;
  };
  NpyHeader h;
  bool has_descr = false, has_order = false, has_shape = false;
  expect('{');
  for (;;) {
    skip();
    if (i < text.size() && text[i] == '}') break;
    const std::string key = quoted();
    expect(':');
    skip();
    if (key == "descr") {
      if (i < text.size() && text[i] == '[') fail("structured dtypes (record arrays) are not supported");
      h.descr = quoted();
      has_descr = true;
    } else if (key == "fortran_order") {
      if (text.compare(i, 4, "True") == 0) {
        h.fortran_order = true;
        i += 4;
      } else if (text.compare(i, 5, "False") == 0) {
        i += 5;
      } else {
        fail("corrupt .npy header (fortran_order): " + text);
      }
      has_order = true;
    } else if (key == "shape") {
      expect('(');
      for (;;) {
        skip();
        if (i < text.size() && text[i] == ')') break;
        std::size_t used = 0;
        long long value = -1;
        try {
          value = std::stoll(text.substr(i), &used);
        } catch (const std::exception&) {
          fail("corrupt .npy header (shape): " + text);
        }
        if (value < 0) fail("corrupt .npy header (negative dimension): " + text);
        h.shape.push_back(value);
        i += used;
        if (i < text.size() && text[i] == 'L') ++i;  // Python 2 longs
        skip();
        if (i < text.size() && text[i] == ',') ++i;
      }
      ++i;
      has_shape = true;
    } else {
      fail("corrupt .npy header (unknown key '" + key + "'): " + text);
    }
    skip();
    if (i < text.size() && text[i] == ',') ++i;
  }
  if (!has_descr || !has_order || !has_shape) fail("incomplete .npy header: " + text);
  return h;
}

const DtypeSpec& dtype_of(const std::string& descr, const ArrayError& fail) {
  const std::string code = descr.size() == 3 ? descr.substr(1) : descr;
  const DtypeSpec* found = nullptr;
  for (const auto& d : kDtypes) {
    if (code == d.code) found = &d;
  }
  const char order = descr.size() == 3 ? descr[0] : '?';
  if (!found || (order != '<' && order != '>' && order != '|' && order != '=')) {
    std::string hint;
    if (code == "u8") hint = " (uint64 has no torch equivalent: convert to int64)";
    else if (!code.empty() && code[0] == 'c') hint = " (complex)";
    else if (!code.empty() && code[0] == 'O') hint = " (Python objects, stored pickled)";
    else if (!code.empty() && (code[0] == 'U' || code[0] == 'S')) hint = " (strings)";
    fail("unsupported dtype '" + descr + "'" + hint +
         "; supported: u1 i1 b1 i2 u2 i4 u4 i8 f2 f4 f8, little-endian");
  }
  if (order == '>' && found->itemsize > 1) fail("big-endian dtype '" + descr + "' is not supported (save it little-endian)");
  return *found;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) s += std::to_string(shape[k]) + (shape.size() == 1 || k + 1 < shape.size() ? "," : "");
  return s + ")";
}

// The uncompressed bytes of one archive member, read in order. finish() checks that all of
// them were read and lets libzip compare their CRC-32 with the archive's.
class Member {
 public:
  Member(zip_t* archive, zip_uint64_t index, std::uint64_t size, const ArrayError& fail)
      : file_(zip_fopen_index(archive, index, 0)), remaining_(size), fail_(fail) {
    if (!file_) fail(std::string("cannot be opened: ") + zip_strerror(archive));
  }
  ~Member() { zip_fclose(file_); }
  Member(const Member&) = delete;
  Member& operator=(const Member&) = delete;

  std::uint64_t remaining() const { return remaining_; }

  void read(void* out, std::uint64_t n) {
    if (n > remaining_) fail_("truncated array: " + std::to_string(n) + " bytes wanted, " + std::to_string(remaining_) + " left");
    auto* bytes = static_cast<unsigned char*>(out);
    while (n > 0) {
      // Slices, so that no length reaches a 32-bit field of zlib's.
      const zip_int64_t got = zip_fread(file_, bytes, std::min<std::uint64_t>(n, kSlice));
      if (got < 0) fail_(problem());
      if (got == 0) fail_("the data end early (truncated archive member)");
      bytes += got;
      n -= static_cast<std::uint64_t>(got);
      remaining_ -= static_cast<std::uint64_t>(got);
    }
  }

  void finish() {
    if (remaining_ != 0) fail_(std::to_string(remaining_) + " bytes after the array's data");
    unsigned char extra = 0;
    const zip_int64_t got = zip_fread(file_, &extra, 1);  // libzip checks the CRC on reaching the end
    if (got < 0) fail_(problem());
    if (got > 0) fail_("more data than the archive's directory declares (the file is corrupt)");
  }

 private:
  static constexpr std::uint64_t kSlice = std::uint64_t{1} << 30;
  std::string problem() const {
    const zip_error_t* error = zip_file_get_error(file_);
    if (zip_error_code_zip(error) == ZIP_ER_CRC) return "CRC-32 mismatch (the file is corrupt)";
    return std::string("read error: ") + zip_file_strerror(file_);
  }
  zip_file_t* file_;
  std::uint64_t remaining_;
  const ArrayError& fail_;
};

// Deflate turns one compressed byte into at most 1032 bytes (zlib's technical notes);
// anything larger is a corrupt or malicious directory entry, refused before allocating.
constexpr std::uint64_t kDeflateMaxRatio = 1032;

void check_member_sizes(const zip_stat_t& stat, std::uint64_t file_size, const ArrayError& fail) {
  if (stat.comp_size > file_size) {
    fail("the archive declares " + std::to_string(stat.comp_size) + " compressed bytes, more than the whole file (" +
         std::to_string(file_size) + " bytes): it is truncated or corrupt");
  }
  if (stat.comp_method == ZIP_CM_STORE && stat.size != stat.comp_size) {
    fail("stored member with inconsistent sizes (" + std::to_string(stat.size) + " and " +
         std::to_string(stat.comp_size) + " bytes): the archive is corrupt");
  }
  if (stat.comp_method == ZIP_CM_DEFLATE && stat.size / kDeflateMaxRatio > stat.comp_size) {
    fail("the archive declares " + std::to_string(stat.size) + " bytes uncompressed from " +
         std::to_string(stat.comp_size) + " compressed, more than deflate can produce: the archive is corrupt");
  }
  if (stat.comp_method != ZIP_CM_STORE && stat.comp_method != ZIP_CM_DEFLATE) {
    fail("compression method " + std::to_string(stat.comp_method) + " is not supported (only stored and deflate)");
  }
  if (stat.encryption_method != ZIP_EM_NONE) fail("encrypted members are not supported");
}

torch::Tensor allocate(const std::vector<std::int64_t>& layout, const DtypeSpec& dtype, std::uint64_t bytes,
                       const ArrayError& fail) {
  try {
    return torch::empty(layout, torch::TensorOptions().dtype(dtype.stored));
  } catch (const std::exception& e) {
    // Memory, not the file, is short: a runtime failure, still naming the file and array.
    throw Error(fail.context + ": array '" + fail.name + "': cannot allocate " + std::to_string(bytes) +
                " bytes for shape " + shape_text(layout) + " (" + e.what() + ")");
  }
}

torch::Tensor read_array(Member& stream, const ArrayError& fail) {
  unsigned char prefix[kMagicSize + 2];
  if (stream.remaining() < sizeof prefix) fail("not an .npy array (too short)");
  stream.read(prefix, sizeof prefix);
  if (std::memcmp(prefix, kMagic, kMagicSize) != 0) fail("not an .npy array (bad magic)");
  const int major = prefix[kMagicSize];
  if (major < 1 || major > 3) fail(".npy format version " + std::to_string(major) + " is not supported (1 to 3)");
  std::size_t header_length = 0;
  unsigned char length_bytes[4] = {};
  const std::size_t length_size = major == 1 ? 2 : 4;
  if (stream.remaining() < length_size) fail("truncated .npy header");
  stream.read(length_bytes, length_size);
  for (std::size_t k = length_size; k-- > 0;) header_length = header_length * 256 + length_bytes[k];
  if (header_length > kMaxHeader) fail("corrupt .npy header (length " + std::to_string(header_length) + ")");
  if (stream.remaining() < header_length) fail("truncated .npy header");
  std::string text(header_length, '\0');
  stream.read(text.data(), header_length);
  const NpyHeader header = parse_header(text, fail);
  const DtypeSpec& dtype = dtype_of(header.descr, fail);

  // The byte count, refused where it would wrap around 64 bits.
  std::uint64_t bytes = dtype.itemsize;
  for (auto d : header.shape) {
    const auto dimension = static_cast<std::uint64_t>(d);
    if (dimension != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / dimension)
      fail("corrupt .npy header: shape " + shape_text(header.shape) + " of '" + header.descr + "' overflows 64 bits");
    bytes *= dimension;
  }
  if (bytes != stream.remaining()) {
    fail(bytes > stream.remaining()
             ? "truncated: shape " + shape_text(header.shape) + " of '" + header.descr + "' needs " + std::to_string(bytes) +
                   " bytes, the member holds " + std::to_string(stream.remaining())
             : std::to_string(stream.remaining() - bytes) + " unexpected bytes after the data of shape " +
                   shape_text(header.shape));
  }
  // Fortran order: the data are the C-order layout of the reversed shape.
  std::vector<std::int64_t> layout = header.shape;
  if (header.fortran_order) std::reverse(layout.begin(), layout.end());
  auto tensor = allocate(layout, dtype, bytes, fail);
  if (bytes > 0) stream.read(tensor.data_ptr(), bytes);
  stream.finish();
  if (header.fortran_order && layout.size() > 1) {
    std::vector<std::int64_t> reverse(layout.size());
    for (std::size_t k = 0; k < reverse.size(); ++k) reverse[k] = static_cast<std::int64_t>(reverse.size() - 1 - k);
    tensor = tensor.permute(reverse).contiguous();
  }
  if (dtype.result != dtype.stored) {
    // Unsigned values read through the signed type of their width: undo the sign.
    const std::int64_t mask = dtype.itemsize == 2 ? 0xffff : 0xffffffffLL;
    tensor = tensor.to(dtype.result).bitwise_and(mask);
  }
  return tensor;
}

const char* descr_of(torch::ScalarType t) {
  switch (t) {
    case torch::kUInt8: return "|u1";
    case torch::kInt8: return "|i1";
    case torch::kBool: return "|b1";
    case torch::kInt16: return "<i2";
    case torch::kInt32: return "<i4";
    case torch::kInt64: return "<i8";
    case torch::kHalf: return "<f2";
    case torch::kFloat32: return "<f4";
    case torch::kFloat64: return "<f8";
    default: return nullptr;
  }
}

// Magic, version, length and the padded dict: the data then start 64-byte aligned.
std::string npy_header(const char* descr, const torch::IntArrayRef& shape) {
  std::vector<std::int64_t> dims(shape.begin(), shape.end());
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape_text(dims) + ", }";
  const bool v1 = dict.size() + 1 + kMagicSize + 4 < 0xffff;
  const std::size_t fixed = kMagicSize + 2 + (v1 ? 2 : 4);
  const std::size_t total = (fixed + dict.size() + 1 + kAlign - 1) / kAlign * kAlign;
  dict.append(total - fixed - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out(kMagic, kMagicSize);
  out.push_back(static_cast<char>(v1 ? 1 : 2));
  out.push_back(0);
  const std::size_t length = dict.size();
  for (std::size_t k = 0; k < (v1 ? 2u : 4u); ++k) out.push_back(static_cast<char>((length >> (8 * k)) & 0xff));
  return out + dict;
}

// Opens the archive for reading, saying in words what the user can act on.
zip_t* open_archive(const std::filesystem::path& file, const std::string& context, std::uint64_t& file_size) {
  auto fail = [&](const std::string& problem) { throw InvalidInput(context + ": " + problem); };
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) fail(std::filesystem::exists(file, ec) ? "not a regular file" : "no such file");
  file_size = std::filesystem::file_size(file, ec);
  if (ec) fail("the file cannot be read (" + ec.message() + ")");
  if (file_size == 0) fail("the file is empty");
  int code = 0;
  zip_t* archive = zip_open(file.c_str(), ZIP_RDONLY, &code);
  if (archive) return archive;
  const std::string problem = libzip_message(code);
  if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS) {
    char start[kMagicSize] = {};
    std::ifstream(file, std::ios::binary).read(start, sizeof start);
    if (std::memcmp(start, kMagic, kMagicSize) == 0) fail("it is a single .npy array, not an .npz archive");
    if (std::memcmp(start, "PK\x03\x04", 4) == 0) fail("the zip archive is truncated or corrupt (" + problem + ")");
    fail("not a zip archive (an .npz is a zip file of .npy arrays)");
  }
  fail(problem);
  return nullptr;
}

// Closes a zip_t that was not written out, however the function leaves.
struct Discard {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using Archive = std::unique_ptr<zip_t, Discard>;

// The fixed date 1980-01-01 00:00 (MS-DOS format): identical inputs give identical archives.
constexpr zip_uint16_t kDosTime = 0, kDosDate = (0 << 9) | (1 << 5) | 1;
constexpr zip_uint32_t kRegularFileRwRR = 0100644u << 16;

// Writes one stored member per array: its .npy header then its data, both without copies.
void write_archive(const std::filesystem::path& path, const std::vector<std::string>& names,
                   const std::vector<std::string>& headers, const std::vector<torch::Tensor>& tensors) {
  int code = 0;
  Archive archive(zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
  if (!archive) throw Error(libzip_message(code));
  auto fail = [&] { throw Error(zip_strerror(archive.get())); };
  // libzip reads the buffers when the archive is closed: they and their fragments live until then.
  std::vector<std::vector<zip_buffer_fragment_t>> fragments(tensors.size());
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    fragments[k].push_back({reinterpret_cast<zip_uint8_t*>(const_cast<char*>(headers[k].data())), headers[k].size()});
    if (tensors[k].nbytes() > 0)
      fragments[k].push_back({static_cast<zip_uint8_t*>(tensors[k].data_ptr()), static_cast<zip_uint64_t>(tensors[k].nbytes())});
    zip_source_t* source = zip_source_buffer_fragment(archive.get(), fragments[k].data(), fragments[k].size(), 0);
    if (!source) fail();
    const zip_int64_t index = zip_file_add(archive.get(), (names[k] + ".npy").c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      fail();
    }
    const auto member = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(archive.get(), member, ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_dostime(archive.get(), member, kDosTime, kDosDate, 0) != 0 ||
        zip_file_set_external_attributes(archive.get(), member, 0, ZIP_OPSYS_UNIX, kRegularFileRwRR) != 0)
      fail();
  }
  if (zip_close(archive.get()) != 0) fail();
  archive.release();  // closed: zip_close freed it
}

}  // namespace

std::map<std::string, torch::Tensor> read_npz(const std::filesystem::path& file) {
  const std::string context = "cannot read npz '" + file.string() + "'";
  std::uint64_t file_size = 0;
  Archive archive(open_archive(file, context, file_size));
  std::map<std::string, torch::Tensor> arrays;
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t stat;
    if (zip_stat_index(archive.get(), index, 0, &stat) != 0) throw InvalidInput(context + ": " + zip_strerror(archive.get()));
    const std::string member = stat.name;
    constexpr std::size_t kSuffix = 4;  // ".npy"
    if (member.size() <= kSuffix || member.compare(member.size() - kSuffix, kSuffix, ".npy") != 0) continue;
    const std::string name = member.substr(0, member.size() - kSuffix);
    const ArrayError fail{context, name};
    if (arrays.count(name)) fail("the archive holds it twice");
    check_member_sizes(stat, file_size, fail);
    Member stream(archive.get(), index, stat.size, fail);
    arrays[name] = read_array(stream, fail);
  }
  return arrays;
}

void write_npz(const std::filesystem::path& file, const std::vector<std::pair<std::string, torch::Tensor>>& arrays) {
  const std::string context = "cannot write npz '" + file.string() + "'";
  std::set<std::string> unique;
  std::vector<std::string> names, headers;
  std::vector<torch::Tensor> tensors;
  for (const auto& [name, tensor] : arrays) {
    if (name.empty() || name.find('\0') != std::string::npos) throw InvalidInput(context + ": array names must be non-empty text");
    if (!unique.insert(name).second) throw InvalidInput(context + ": array '" + name + "' is given twice");
    if (!tensor.defined()) throw InvalidInput(context + ": array '" + name + "' is an undefined tensor");
    const char* descr = descr_of(tensor.scalar_type());
    if (!descr) {
      throw InvalidInput(context + ": array '" + name + "' has dtype " + std::string(c10::toString(tensor.scalar_type())) +
                         "; supported: float16/32/64, int8/16/32/64, uint8, bool");
    }
    names.push_back(name);
    tensors.push_back(tensor.detach().to(torch::kCPU).contiguous());
    headers.push_back(npy_header(descr, tensors.back().sizes()));
  }
  try {
    write_file_atomically(file, [&](const std::filesystem::path& temporary) { write_archive(temporary, names, headers, tensors); });
  } catch (const InvalidInput&) {
    throw;
  } catch (const Error& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace medadv
