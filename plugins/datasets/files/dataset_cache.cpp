#include "dataset_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>

#include "medadv/error.h"
#include "medadv/hash.h"

namespace medadv::plugins::files {

namespace fs = std::filesystem;

namespace {
// Bump when what is cached, or how, changes: old entries then simply miss.
constexpr const char* kCacheFormat = "medadv-dataset-cache 2";
constexpr const char* kKeyFile = "key.txt";
constexpr const char* kIndexFile = "index.txt";

std::string errno_text() { return std::strerror(errno); }

const char* suffix_of(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "f32";
    case torch::kUInt8: return "u8";
    case torch::kInt64: return "i64";
    default: throw Error(std::string("a dataset cache holds float32, uint8 or int64 arrays, not ") + c10::toString(t));
  }
}

torch::ScalarType dtype_of(const std::string& suffix) {
  for (const auto t : {torch::kFloat32, torch::kUInt8, torch::kInt64})
    if (suffix == suffix_of(t)) return t;
  throw Error("unknown array type '" + suffix + "'");
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot read " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  if (!out.flush()) throw Error("cannot write " + file.string());
}

// An open file descriptor, closed however the scope is left.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// A writable tensor over `bytes` of `fd`, shared with the file; unmapped when the tensor goes.
torch::Tensor map_for_writing(int fd, std::int64_t bytes, const std::vector<std::int64_t>& shape,
                              torch::ScalarType dtype, const fs::path& file) {
  if (bytes == 0) return torch::empty(shape, dtype);
  void* data = ::mmap(nullptr, static_cast<std::size_t>(bytes), PROT_READ | PROT_WRITE, MAP_SHARED,
                      fd, 0);
  if (data == MAP_FAILED) throw Error("cannot map " + file.string() + " into memory: " + errno_text());
  const auto length = static_cast<std::size_t>(bytes);
  return torch::from_blob(data, shape, [length](void* p) { ::munmap(p, length); }, torch::TensorOptions().dtype(dtype));
}

std::int64_t bytes_of(const std::vector<std::int64_t>& shape, torch::ScalarType dtype) {
  std::int64_t n = static_cast<std::int64_t>(c10::elementSize(dtype));
  for (const auto d : shape) n *= d;
  return n;
}

std::string index_line(const std::string& name, torch::ScalarType dtype, const std::vector<std::int64_t>& shape) {
  std::string line = name + " " + suffix_of(dtype);
  for (const auto d : shape) line += " " + std::to_string(d);
  return line + "\n";
}

// A folder beside the entry that becomes it by one rename, or is removed.
class Staging {
 public:
  explicit Staging(const fs::path& entry) {
    std::random_device random;
    dir_ = entry.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(random());
    fs::create_directories(dir_);
  }
  ~Staging() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  const fs::path& dir() const { return dir_; }
  // Publishes the folder as `entry` (key.txt last). Another process may have published
  // the same entry meanwhile: its is as good, and this one is dropped.
  void publish(const fs::path& entry, const std::string& key_text) {
    write_text(dir_ / kKeyFile, key_text);
    std::error_code ec;
    fs::rename(dir_, entry, ec);
    if (!ec) dir_.clear();
  }

 private:
  fs::path dir_;
};

void write_raw(const fs::path& file, const torch::Tensor& array) {
  const auto data = array.contiguous();
  std::ofstream out(file, std::ios::binary);
  out.write(static_cast<const char*>(data.data_ptr()), static_cast<std::streamsize>(data.nbytes()));
  if (!out.flush()) throw Error("cannot write " + file.string());
}

}  // namespace

CachedArray::CachedArray(const fs::path& file, torch::ScalarType dtype, std::vector<std::int64_t> shape)
    : file_(file), dtype_(dtype), shape_(std::move(shape)) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + file.string() + ": " + errno_text());
  fd_ = std::shared_ptr<const int>(new int(fd), [](const int* f) {
    ::close(*f);
    delete f;
  });
  struct stat st {};
  const auto bytes = bytes_of(shape_, dtype_);
  if (::fstat(fd, &st) != 0 || st.st_size != bytes)
    throw Error(file.string() + " holds " + std::to_string(st.st_size) + " bytes, not the " + std::to_string(bytes) +
                " of its shape");
}

CachedArray::CachedArray(torch::Tensor in_memory)
    : dtype_(in_memory.scalar_type()), shape_(in_memory.sizes().vec()), memory_(in_memory.contiguous()) {}

std::int64_t CachedArray::row_bytes() const {
  std::vector<std::int64_t> row(shape_.begin() + 1, shape_.end());
  return bytes_of(row, dtype_);
}

torch::Tensor CachedArray::rows(const torch::Tensor& indices) const {
  const auto index = indices.to(torch::kCPU, torch::kLong).reshape({-1}).contiguous();
  if (memory_.defined()) return memory_.index_select(0, index);
  std::vector<std::int64_t> shape = shape_;
  shape[0] = index.numel();
  auto out = torch::empty(shape, dtype_);
  const std::int64_t row = row_bytes();
  const auto* r = index.data_ptr<std::int64_t>();
  char* data = static_cast<char*>(out.data_ptr());
  for (std::int64_t k = 0; k < index.numel(); ++k) {
    if (r[k] < 0 || r[k] >= shape_[0])
      throw Error("row " + std::to_string(r[k]) + " of " + file_.string() + " does not exist");
    std::int64_t done = 0;
    while (done < row) {
      const ssize_t n = ::pread(*fd_, data + k * row + done, static_cast<std::size_t>(row - done), r[k] * row + done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Error("cannot read " + file_.string() + ": " + (n == 0 ? std::string("it is shorter than written") : errno_text()));
      done += n;
    }
  }
  return out;
}

torch::Tensor CachedArray::all() const { return rows(torch::arange(shape_.empty() ? 0 : shape_[0], torch::kLong)); }

DatasetCache::DatasetCache(RunContext& ctx, const std::string& plugin, const Params& params,
                           const std::vector<FileStamp>& files)
    : ctx_(ctx), plugin_(plugin) {
  key_text_ = std::string(kCacheFormat) + "\nplugin " + plugin + "\nparams " + params.to_value().to_string() + "\n";
  for (const auto& f : files) {
    key_text_ += f.path.string() + "\t" + std::to_string(f.size) + "\t" + std::to_string(f.mtime_ns) + "\n";
  }
  path_ = ctx.cache_dir() / "datasets" / (plugin + "-" + stable_hash(key_text_));
}

std::optional<CacheEntry> DatasetCache::load() {
  auto entry = open_entry();
  if (entry) ctx_.log().info(plugin_ + ": decoded data read from cache " + path_.string());
  return entry;
}

std::optional<CacheEntry> DatasetCache::open_entry() {
  std::error_code ec;
  if (!fs::is_directory(path_, ec)) return std::nullopt;
  CacheEntry entry;
  try {
    if (read_text(path_ / kKeyFile) != key_text_) {
      ctx_.log().debug(plugin_ + ": cache " + path_.string() + " belongs to other data (hash collision); decoding");
      return std::nullopt;
    }
    std::istringstream index(read_text(path_ / kIndexFile));
    std::string line;
    while (std::getline(index, line)) {
      std::istringstream fields(line);
      std::string name, suffix;
      if (!(fields >> name >> suffix)) throw Error("a malformed line in " + std::string(kIndexFile));
      std::vector<std::int64_t> shape;
      for (std::int64_t d = 0; fields >> d;) shape.push_back(d);
      if (shape.empty()) throw Error("array '" + name + "' has no shape in " + std::string(kIndexFile));
      entry[name] = CachedArray(path_ / (name + "." + suffix), dtype_of(suffix), shape);
    }
  } catch (const Error& e) {
    ctx_.log().warn(plugin_ + ": ignoring an unreadable cache (" + e.what() + ")");
    fs::remove_all(path_, ec);
    return std::nullopt;
  }
  return entry;
}

CacheEntry DatasetCache::decode(
    const std::vector<std::string>& names, const std::vector<std::vector<std::int64_t>>& shapes, std::int64_t count,
    const std::function<void(std::int64_t, std::vector<torch::Tensor>&)>& item, bool skip_bad) {
  std::unique_ptr<Staging> staging;
  std::vector<std::unique_ptr<Fd>> files;
  std::vector<torch::Tensor> outputs;
  std::vector<std::vector<std::int64_t>> full_shapes;
  for (const auto& shape : shapes) {
    std::vector<std::int64_t> full{count};
    full.insert(full.end(), shape.begin(), shape.end());
    full_shapes.push_back(full);
  }
  try {
    staging = std::make_unique<Staging>(path_);
    for (std::size_t k = 0; k < names.size(); ++k) {
      const fs::path file = staging->dir() / (names[k] + ".f32");
      files.push_back(std::make_unique<Fd>(::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)));
      if (files.back()->fd < 0) throw Error("cannot create " + file.string() + ": " + errno_text());
      const auto bytes = bytes_of(full_shapes[k], torch::kFloat32);
      // Reserved before it is mapped: a full disk is an error here, not a SIGBUS later.
      if (bytes > 0 && (errno = ::posix_fallocate(files.back()->fd, 0, bytes)) != 0)
        throw Error("cannot reserve " + std::to_string(bytes) + " bytes for " + file.string() + ": " + errno_text());
      outputs.push_back(map_for_writing(files.back()->fd, bytes, full_shapes[k], torch::kFloat32, file));
    }
  } catch (const std::exception& e) {
    ctx_.log().warn(plugin_ + ": cannot write the decoded data to the cache (" + std::string(e.what()) +
                    "); decoding into memory");
    outputs.clear();
    files.clear();
    staging.reset();
    for (const auto& shape : full_shapes) outputs.push_back(torch::empty(shape, torch::kFloat32));
  }

  const std::vector<std::int64_t> kept = decode_items(count, outputs, item, skip_bad, ctx_, plugin_);
  const auto rows = static_cast<std::int64_t>(kept.size());
  // Rows that decoded move up over those that did not (kept is ascending: no overlap).
  for (std::int64_t j = 0; j < rows; ++j)
    if (kept[static_cast<std::size_t>(j)] != j)
      for (auto& o : outputs) o[j].copy_(o[kept[static_cast<std::size_t>(j)]]);
  const auto kept_tensor = torch::tensor(kept, torch::kInt64);

  if (!staging) {
    CacheEntry arrays{{"kept", CachedArray(kept_tensor)}};
    for (std::size_t k = 0; k < names.size(); ++k) arrays[names[k]] = CachedArray(outputs[k].slice(0, 0, rows));
    return arrays;
  }
  outputs.clear();  // unmapped: the files hold the data
  std::string index;
  for (std::size_t k = 0; k < names.size(); ++k) {
    auto shape = full_shapes[k];
    shape[0] = rows;
    const fs::path file = staging->dir() / (names[k] + ".f32");
    if (::ftruncate(files[k]->fd, bytes_of(shape, torch::kFloat32)) != 0 || ::fdatasync(files[k]->fd) != 0)
      throw Error("cannot finish " + file.string() + ": " + errno_text());
    index += index_line(names[k], torch::kFloat32, shape);
  }
  files.clear();
  write_raw(staging->dir() / "kept.i64", kept_tensor);
  index += index_line("kept", torch::kInt64, {rows});
  write_text(staging->dir() / kIndexFile, index);
  staging->publish(path_, key_text_);
  ctx_.log().debug(plugin_ + ": decoded data cached in " + path_.string());
  if (auto arrays = open_entry()) return *arrays;
  throw Error(plugin_ + ": the cache entry " + path_.string() + " just written cannot be read back");
}

namespace {

// pwrite of all `bytes`, retried on interruption and short writes.
void write_all(int fd, const char* data, std::int64_t bytes, std::int64_t offset, const fs::path& file) {
  std::int64_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pwrite(fd, data + done, static_cast<std::size_t>(bytes - done), offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("cannot write " + file.string() + ": " + errno_text());
    done += n;
  }
}

}  // namespace

CacheEntry DatasetCache::stream(const std::string& name, torch::ScalarType dtype,
                                const std::vector<std::int64_t>& shape,
                                const std::function<void(const RowSink&)>& fill) {
  const std::int64_t total = shape.empty() ? 0 : shape[0];
  std::vector<std::int64_t> row(shape.begin() + (shape.empty() ? 0 : 1), shape.end());
  const std::int64_t row_bytes = bytes_of(row, dtype);
  std::unique_ptr<Staging> staging;
  std::unique_ptr<Fd> file;
  fs::path path;
  try {
    staging = std::make_unique<Staging>(path_);
    path = staging->dir() / (name + "." + suffix_of(dtype));
    file = std::make_unique<Fd>(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (file->fd < 0) throw Error("cannot create " + path.string() + ": " + errno_text());
    const auto bytes = bytes_of(shape, dtype);
    if (bytes > 0 && (errno = ::posix_fallocate(file->fd, 0, bytes)) != 0)
      throw Error("cannot reserve " + std::to_string(bytes) + " bytes for " + path.string() + ": " + errno_text());
  } catch (const std::exception& e) {
    ctx_.log().warn(plugin_ + ": cannot write the data to the cache (" + std::string(e.what()) + "); keeping them in memory");
    file.reset();
    staging.reset();
  }

  std::vector<torch::Tensor> in_memory;
  std::int64_t written = 0;
  const RowSink sink = [&](const torch::Tensor& rows) {
    const auto block = rows.to(torch::kCPU, dtype).contiguous();
    if (block.dim() != static_cast<std::int64_t>(shape.size()) || block.sizes().slice(1) != torch::IntArrayRef(row) ||
        written + block.size(0) > total)
      throw Error(plugin_ + ": rows of shape " + c10::str(block.sizes()) + " for array '" + name + "' of shape " +
                  c10::str(torch::IntArrayRef(shape)) + " after " + std::to_string(written) + " rows");
    if (file) write_all(file->fd, static_cast<const char*>(block.data_ptr()), block.size(0) * row_bytes,
                        written * row_bytes, path);
    else in_memory.push_back(block);
    written += block.size(0);
  };
  fill(sink);
  if (written != total)
    throw Error(plugin_ + ": array '" + name + "' got " + std::to_string(written) + " of its " + std::to_string(total) +
                " rows");
  if (!file) return CacheEntry{{name, CachedArray(in_memory.empty() ? torch::empty(shape, dtype) : torch::cat(in_memory))}};
  if (::fdatasync(file->fd) != 0) throw Error("cannot finish " + path.string() + ": " + errno_text());
  file.reset();
  write_text(staging->dir() / kIndexFile, index_line(name, dtype, shape));
  staging->publish(path_, key_text_);
  ctx_.log().debug(plugin_ + ": data cached in " + path_.string());
  if (auto entry = open_entry()) return *entry;
  throw Error(plugin_ + ": the cache entry " + path_.string() + " just written cannot be read back");
}

CacheEntry DatasetCache::store(const std::map<std::string, torch::Tensor>& arrays) {
  CacheEntry in_memory;
  for (const auto& [name, array] : arrays) in_memory[name] = CachedArray(array);
  try {
    Staging staging(path_);
    std::string index;
    for (const auto& [name, array] : arrays) {
      write_raw(staging.dir() / (name + "." + suffix_of(array.scalar_type())), array);
      index += index_line(name, array.scalar_type(), array.sizes().vec());
    }
    write_text(staging.dir() / kIndexFile, index);
    staging.publish(path_, key_text_);
    ctx_.log().debug(plugin_ + ": decoded data cached in " + path_.string());
  } catch (const std::exception& e) {
    ctx_.log().warn(plugin_ + ": could not cache the decoded data (" + std::string(e.what()) + ")");
    return in_memory;
  }
  if (auto entry = open_entry()) return *entry;
  return in_memory;
}

}  // namespace medadv::plugins::files
