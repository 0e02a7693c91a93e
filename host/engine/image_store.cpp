#include "engine/image_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "medadv/error.h"

namespace medadv::host {

namespace {

std::string errno_text() { return std::strerror(errno); }

// An unnamed file in `dir`: O_TMPFILE where the file system has it, else a named one
// unlinked at once.
int open_unnamed_file(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string pattern = (dir / "adversarial-XXXXXX").string();
  fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) throw Error("cannot create a file for adversarial images in " + dir.string() + ": " + errno_text());
  ::unlink(pattern.c_str());
  return fd;
}

}  // namespace

std::int64_t image_store_memory_bytes(std::int64_t available) {
  constexpr std::int64_t kMost = std::int64_t{256} << 20;
  return available > 0 ? std::min(kMost, available / 16) : kMost;
}

ImageStore::ImageStore(std::int64_t count, std::vector<std::int64_t> item_shape, const std::filesystem::path& spill_dir,
                       std::int64_t memory_limit_bytes)
    : count_(count), item_shape_(std::move(item_shape)), dir_(spill_dir) {
  if (count_ * item_bytes() <= memory_limit_bytes) {
    std::vector<std::int64_t> shape{count_};
    shape.insert(shape.end(), item_shape_.begin(), item_shape_.end());
    memory_ = torch::empty(shape, torch::kFloat);
    return;
  }
  fd_ = open_unnamed_file(dir_);
}

ImageStore::~ImageStore() {
  if (fd_ >= 0) ::close(fd_);
}

std::int64_t ImageStore::item_bytes() const {
  std::int64_t bytes = static_cast<std::int64_t>(sizeof(float));
  for (const auto d : item_shape_) bytes *= d;
  return bytes;
}

void ImageStore::write(std::int64_t begin, const torch::Tensor& batch) {
  const auto rows = batch.detach().to(torch::kCPU, torch::kFloat).contiguous();
  if (begin < 0 || begin + rows.size(0) > count_)
    throw Error("adversarial images " + std::to_string(begin) + ".." + std::to_string(begin + rows.size(0)) +
                " lie outside a store of " + std::to_string(count_));
  if (!spilled()) {
    memory_.slice(0, begin, begin + rows.size(0)).copy_(rows);
    return;
  }
  const char* data = static_cast<const char*>(rows.data_ptr());
  std::int64_t left = rows.nbytes(), offset = begin * item_bytes();
  while (left > 0) {
    const ssize_t n = ::pwrite(fd_, data, static_cast<std::size_t>(left), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("cannot write adversarial images to " + dir_.string() + ": " + errno_text());
    data += n;
    left -= n;
    offset += n;
  }
}

torch::Tensor ImageStore::read(std::int64_t begin, std::int64_t end) const {
  if (begin < 0 || end > count_ || begin > end)
    throw Error("adversarial images " + std::to_string(begin) + ".." + std::to_string(end) + " lie outside a store of " +
                std::to_string(count_));
  if (!spilled()) return memory_.slice(0, begin, end);
  std::vector<std::int64_t> shape{end - begin};
  shape.insert(shape.end(), item_shape_.begin(), item_shape_.end());
  auto out = torch::empty(shape, torch::kFloat);
  char* data = static_cast<char*>(out.data_ptr());
  std::int64_t left = out.nbytes(), offset = begin * item_bytes();
  while (left > 0) {
    const ssize_t n = ::pread(fd_, data, static_cast<std::size_t>(left), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("cannot read adversarial images back from " + dir_.string() + ": " +
                            (n == 0 ? std::string("the file is shorter than written") : errno_text()));
    data += n;
    left -= n;
    offset += n;
  }
  return out;
}

torch::Tensor ImageStore::gather(const torch::Tensor& rows) const {
  const auto index = rows.to(torch::kCPU, torch::kLong).reshape({-1});
  if (!spilled()) return memory_.index_select(0, index);
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<std::size_t>(index.numel()));
  const auto* r = index.data_ptr<std::int64_t>();
  for (std::int64_t k = 0; k < index.numel(); ++k) out.push_back(read(r[k], r[k] + 1));
  if (out.empty()) {
    std::vector<std::int64_t> shape{0};
    shape.insert(shape.end(), item_shape_.begin(), item_shape_.end());
    return torch::empty(shape, torch::kFloat);
  }
  return torch::cat(out);
}

}  // namespace medadv::host
