// .npz = a zip of .npy arrays, read and written with libzip (zip64 included). The .npy
// format: "\x93NUMPY", version major/minor, a little-endian header length (2 bytes in v1,
// 4 in v2/v3), a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape':
// (2, 3), } padded so the data start on a 64-byte boundary, then the raw data.
#include "medadv/npz.h"

#include <zip.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
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

// What an .npy member's header says, checked against the member's size.
struct ArrayLayout {
  const DtypeSpec* dtype = nullptr;
  std::vector<std::int64_t> shape;   // as numpy has it
  std::vector<std::int64_t> layout;  // of the stored bytes: the reversed shape in Fortran order
  bool fortran_order = false;
  std::uint64_t bytes = 0;
};

// Reads the member's magic and header; the data follow in `stream`.
ArrayLayout read_layout(Member& stream, const ArrayError& fail) {
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
  ArrayLayout a;
  a.dtype = &dtype_of(header.descr, fail);
  a.shape = header.shape;
  a.fortran_order = header.fortran_order;

  // The byte count, refused where it would wrap around 64 bits.
  a.bytes = a.dtype->itemsize;
  for (auto d : header.shape) {
    const auto dimension = static_cast<std::uint64_t>(d);
    if (dimension != 0 && a.bytes > std::numeric_limits<std::uint64_t>::max() / dimension)
      fail("corrupt .npy header: shape " + shape_text(header.shape) + " of '" + header.descr + "' overflows 64 bits");
    a.bytes *= dimension;
  }
  if (a.bytes != stream.remaining()) {
    fail(a.bytes > stream.remaining()
             ? "truncated: shape " + shape_text(header.shape) + " of '" + header.descr + "' needs " +
                   std::to_string(a.bytes) + " bytes, the member holds " + std::to_string(stream.remaining())
             : std::to_string(stream.remaining() - a.bytes) + " unexpected bytes after the data of shape " +
                   shape_text(header.shape));
  }
  // Fortran order: the data are the C-order layout of the reversed shape.
  a.layout = header.shape;
  if (a.fortran_order) std::reverse(a.layout.begin(), a.layout.end());
  return a;
}

// Unsigned values read through the signed type of their width: undo the sign.
torch::Tensor widened(torch::Tensor t, const DtypeSpec& dtype) {
  if (dtype.result == dtype.stored) return t;
  const std::int64_t mask = dtype.itemsize == 2 ? 0xffff : 0xffffffffLL;
  return t.to(dtype.result).bitwise_and(mask);
}

torch::Tensor read_array(Member& stream, const ArrayError& fail) {
  const ArrayLayout a = read_layout(stream, fail);
  auto tensor = allocate(a.layout, *a.dtype, a.bytes, fail);
  if (a.bytes > 0) stream.read(tensor.data_ptr(), a.bytes);
  stream.finish();
  if (a.fortran_order && a.layout.size() > 1) {
    std::vector<std::int64_t> reverse(a.layout.size());
    for (std::size_t k = 0; k < reverse.size(); ++k) reverse[k] = static_cast<std::int64_t>(reverse.size() - 1 - k);
    tensor = tensor.permute(reverse).contiguous();
  }
  return widened(tensor, *a.dtype);
}

// fn(name, stat, index) for every `NAME.npy` member of the archive, in its order; a name
// met twice is refused.
void for_each_array(zip_t* archive, std::uint64_t file_size, const std::string& context,
                    const std::function<void(const std::string&, const zip_stat_t&, zip_uint64_t)>& fn) {
  std::set<std::string> seen;
  const zip_int64_t count = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t stat;
    if (zip_stat_index(archive, index, 0, &stat) != 0) throw InvalidInput(context + ": " + zip_strerror(archive));
    const std::string member = stat.name;
    constexpr std::size_t kSuffix = 4;  // ".npy"
    if (member.size() <= kSuffix || member.compare(member.size() - kSuffix, kSuffix, ".npy") != 0) continue;
    const std::string name = member.substr(0, member.size() - kSuffix);
    const ArrayError fail{context, name};
    if (!seen.insert(name).second) fail("the archive holds it twice");
    check_member_sizes(stat, file_size, fail);
    fn(name, stat, index);
  }
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

// One member's bytes for libzip, produced as it asks: the .npy header, then the array a
// block of rows at a time.
class MemberStream {
 public:
  MemberStream(const NpzRows& array, std::string header, std::int64_t block_rows)
      : array_(array), header_(std::move(header)), block_rows_(std::max<std::int64_t>(1, block_rows)) {
    row_count_ = array_.shape.empty() ? 1 : array_.shape[0];
    std::int64_t row_elements = 1;
    for (std::size_t d = 1; d < array_.shape.size(); ++d) row_elements *= array_.shape[d];
    row_bytes_ = static_cast<std::uint64_t>(row_elements) * c10::elementSize(array_.dtype);
    zip_error_init(&error_);
  }
  ~MemberStream() { zip_error_fini(&error_); }
  MemberStream(const MemberStream&) = delete;
  MemberStream& operator=(const MemberStream&) = delete;

  std::uint64_t size() const { return header_.size() + static_cast<std::uint64_t>(row_count_) * row_bytes_; }
  std::exception_ptr failure() const { return failure_; }

  static zip_int64_t callback(void* state, void* data, zip_uint64_t length, zip_source_cmd_t command) {
    auto& self = *static_cast<MemberStream*>(state);
    switch (command) {
      case ZIP_SOURCE_OPEN:
        self.position_ = 0;
        self.next_row_ = 0;
        self.block_ = torch::Tensor();
        self.block_offset_ = 0;
        return 0;
      case ZIP_SOURCE_READ: return self.read(static_cast<char*>(data), length);
      case ZIP_SOURCE_CLOSE: return 0;
      case ZIP_SOURCE_STAT: {
        auto* stat = static_cast<zip_stat_t*>(data);
        zip_stat_init(stat);
        stat->size = self.size();
        stat->valid |= ZIP_STAT_SIZE;
        return sizeof(zip_stat_t);
      }
      case ZIP_SOURCE_ERROR: return zip_error_to_data(&self.error_, data, length);
      case ZIP_SOURCE_FREE: return 0;
      case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                              ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
      default:
        zip_error_set(&self.error_, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
  }

 private:
  zip_int64_t read(char* out, zip_uint64_t length) {
    try {
      zip_uint64_t written = 0;
      while (written < length && position_ < size()) {
        const bool in_header = position_ < header_.size();
        if (!in_header && block_offset_ == block_bytes()) next_block();
        const char* from = in_header ? header_.data() + position_
                                     : static_cast<const char*>(block_.data_ptr()) + block_offset_;
        const std::uint64_t available = in_header ? header_.size() - position_ : block_bytes() - block_offset_;
        const std::uint64_t n = std::min<std::uint64_t>(available, length - written);
        std::memcpy(out + written, from, n);
        written += n;
        position_ += n;
        if (!in_header) block_offset_ += n;
      }
      return static_cast<zip_int64_t>(written);
    } catch (...) {
      failure_ = std::current_exception();
      zip_error_set(&error_, ZIP_ER_READ, 0);
      return -1;
    }
  }

  std::uint64_t block_bytes() const { return block_.defined() ? static_cast<std::uint64_t>(block_.nbytes()) : 0; }

  void next_block() {
    const std::int64_t end = std::min(row_count_, next_row_ + block_rows_);
    torch::Tensor block = array_.rows(next_row_, end);
    std::vector<std::int64_t> want = array_.shape;
    if (!want.empty()) want[0] = end - next_row_;
    if (!block.defined() || block.scalar_type() != array_.dtype || block.sizes() != c10::IntArrayRef(want))
      throw Error("array '" + array_.name + "': rows " + std::to_string(next_row_) + " to " + std::to_string(end) +
                  " came as " + (block.defined() ? c10::str(block.sizes()) + " " + c10::toString(block.scalar_type()) : "nothing") +
                  "; expected " + c10::str(c10::IntArrayRef(want)) + " " + c10::toString(array_.dtype));
    block_ = block.detach().to(torch::kCPU).contiguous();
    block_offset_ = 0;
    next_row_ = end;
    if (block_bytes() == 0) throw Error("array '" + array_.name + "': an empty block of rows");
  }

  const NpzRows& array_;
  const std::string header_;
  const std::int64_t block_rows_;
  std::int64_t row_count_ = 0;
  std::uint64_t row_bytes_ = 0;
  std::uint64_t position_ = 0;
  std::int64_t next_row_ = 0;
  torch::Tensor block_;
  std::uint64_t block_offset_ = 0;
  zip_error_t error_;
  std::exception_ptr failure_;
};

// Writes one stored member per array, each produced by its stream as libzip writes it.
void write_archive(const std::filesystem::path& path, const std::vector<NpzRows>& arrays,
                   std::vector<std::unique_ptr<MemberStream>>& streams) {
  int code = 0;
  Archive archive(zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
  if (!archive) throw Error(libzip_message(code));
  auto fail = [&] { throw Error(zip_strerror(archive.get())); };
  for (std::size_t k = 0; k < arrays.size(); ++k) {
    zip_source_t* source = zip_source_function(archive.get(), &MemberStream::callback, streams[k].get());
    if (!source) fail();
    const zip_int64_t index = zip_file_add(archive.get(), (arrays[k].name + ".npy").c_str(), source, ZIP_FL_ENC_UTF_8);
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
  if (zip_close(archive.get()) != 0) {
    // A block that failed (its own exception) says more than libzip's "read error".
    for (const auto& stream : streams)
      if (stream->failure()) std::rethrow_exception(stream->failure());
    fail();
  }
  archive.release();  // closed: zip_close freed it
}

}  // namespace

std::map<std::string, torch::Tensor> read_npz(const std::filesystem::path& file) {
  const std::string context = "cannot read npz '" + file.string() + "'";
  std::uint64_t file_size = 0;
  Archive archive(open_archive(file, context, file_size));
  std::map<std::string, torch::Tensor> arrays;
  for_each_array(archive.get(), file_size, context, [&](const std::string& name, const zip_stat_t& stat, zip_uint64_t index) {
    const ArrayError fail{context, name};
    Member stream(archive.get(), index, stat.size, fail);
    arrays[name] = read_array(stream, fail);
  });
  return arrays;
}

std::vector<NpzArrayInfo> npz_arrays(const std::filesystem::path& file) {
  const std::string context = "cannot read npz '" + file.string() + "'";
  std::uint64_t file_size = 0;
  Archive archive(open_archive(file, context, file_size));
  std::vector<NpzArrayInfo> arrays;
  for_each_array(archive.get(), file_size, context, [&](const std::string& name, const zip_stat_t& stat, zip_uint64_t index) {
    const ArrayError fail{context, name};
    Member stream(archive.get(), index, stat.size, fail);
    const ArrayLayout a = read_layout(stream, fail);
    arrays.push_back(NpzArrayInfo{name, a.dtype->result, a.shape});
  });
  return arrays;
}

void read_npz_rows(const std::filesystem::path& file, const std::string& wanted, std::int64_t block_rows,
                   const std::function<void(std::int64_t, const torch::Tensor&)>& rows) {
  const std::string context = "cannot read npz '" + file.string() + "'";
  if (block_rows < 1) throw InvalidInput(context + ": blocks of " + std::to_string(block_rows) + " rows");
  std::uint64_t file_size = 0;
  Archive archive(open_archive(file, context, file_size));
  bool found = false;
  for_each_array(archive.get(), file_size, context, [&](const std::string& name, const zip_stat_t& stat, zip_uint64_t index) {
    if (name != wanted) return;
    found = true;
    const ArrayError fail{context, name};
    Member stream(archive.get(), index, stat.size, fail);
    const ArrayLayout a = read_layout(stream, fail);
    if (a.shape.empty() || (a.fortran_order && a.shape.size() > 1)) {
      // A 0-d array has no rows; a Fortran-order one stores no row contiguously.
      stream.finish();
      throw InvalidInput(context + ": array '" + name + "' cannot be read by rows (" +
                         (a.shape.empty() ? std::string("0-d") : std::string("Fortran order")) + "): use read_npz");
    }
    const std::int64_t n = a.shape[0];
    const std::uint64_t row_bytes = n == 0 ? 0 : a.bytes / static_cast<std::uint64_t>(n);
    for (std::int64_t begin = 0; begin < n; begin += block_rows) {
      std::vector<std::int64_t> block_shape = a.shape;
      block_shape[0] = std::min(block_rows, n - begin);
      const std::uint64_t bytes = row_bytes * static_cast<std::uint64_t>(block_shape[0]);
      auto block = allocate(block_shape, *a.dtype, bytes, fail);
      if (bytes > 0) stream.read(block.data_ptr(), bytes);
      rows(begin, widened(block, *a.dtype));
    }
    stream.finish();
  });
  if (!found) throw InvalidInput(context + ": no array '" + wanted + "' in the archive");
}

void write_npz(const std::filesystem::path& file, const std::vector<NpzRows>& arrays, std::int64_t block_rows) {
  const std::string context = "cannot write npz '" + file.string() + "'";
  std::set<std::string> unique;
  std::vector<std::unique_ptr<MemberStream>> streams;
  for (const NpzRows& array : arrays) {
    const std::string& name = array.name;
    if (name.empty() || name.find('\0') != std::string::npos) throw InvalidInput(context + ": array names must be non-empty text");
    if (!unique.insert(name).second) throw InvalidInput(context + ": array '" + name + "' is given twice");
    if (!array.rows) throw InvalidInput(context + ": array '" + name + "' has nothing to read its rows from");
    const char* descr = descr_of(array.dtype);
    if (!descr) {
      throw InvalidInput(context + ": array '" + name + "' has dtype " + std::string(c10::toString(array.dtype)) +
                         "; supported: float16/32/64, int8/16/32/64, uint8, bool");
    }
    for (const auto d : array.shape)
      if (d < 0) throw InvalidInput(context + ": array '" + name + "' has a negative dimension");
    streams.push_back(std::make_unique<MemberStream>(array, npy_header(descr, array.shape), block_rows));
  }
  try {
    write_file_atomically(file, [&](const std::filesystem::path& temporary) { write_archive(temporary, arrays, streams); });
  } catch (const InvalidInput&) {
    throw;
  } catch (const Error& e) {
    throw Error(context + ": " + e.what());
  }
}

void write_npz(const std::filesystem::path& file, const std::vector<std::pair<std::string, torch::Tensor>>& arrays) {
  std::vector<NpzRows> rows;
  for (const auto& [name, tensor] : arrays) {
    NpzRows array;
    array.name = name;
    if (tensor.defined()) {
      array.dtype = tensor.scalar_type();
      array.shape = tensor.sizes().vec();
      const torch::Tensor whole = tensor;
      array.rows = [whole](std::int64_t begin, std::int64_t end) {
        return whole.dim() == 0 ? whole : whole.slice(0, begin, end);
      };
    } else {
      throw InvalidInput("cannot write npz '" + file.string() + "': array '" + name + "' is an undefined tensor");
    }
    rows.push_back(std::move(array));
  }
  // In memory already: one block per array.
  std::int64_t most_rows = 1;
  for (const auto& array : rows)
    if (!array.shape.empty()) most_rows = std::max(most_rows, array.shape[0]);
  write_npz(file, rows, most_rows);
}

}  // namespace medadv
