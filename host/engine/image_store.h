#pragma once
// Float images [N,C,H,W] written once, a batch at a time, and read back by rows: the
// adversarial images of an attacked split. Small stores stay in memory; larger ones go to
// an unnamed file in the run directory (no anonymous memory, nothing left after a crash),
// so that the run's memory does not grow with the split (docs/decisions.md, issue 25).
#include <cstdint>
#include <filesystem>
#include <vector>

#include <torch/torch.h>

namespace medadv::host {

class ImageStore {
 public:
  // Above `memory_limit_bytes` of images the store spills to `spill_dir`.
  ImageStore(std::int64_t count, std::vector<std::int64_t> item_shape, const std::filesystem::path& spill_dir,
             std::int64_t memory_limit_bytes);
  ~ImageStore();
  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;

  std::int64_t size() const { return count_; }
  bool spilled() const { return fd_ >= 0; }
  std::int64_t bytes() const { return count_ * item_bytes(); }
  // Rows [begin, begin + B) from `batch` [B,C,H,W] (any device, converted to float).
  void write(std::int64_t begin, const torch::Tensor& batch);
  // Rows [begin, end), or the rows at `rows` (int64), as float on the CPU.
  torch::Tensor read(std::int64_t begin, std::int64_t end) const;
  torch::Tensor gather(const torch::Tensor& rows) const;

 private:
  std::int64_t item_bytes() const;
  std::int64_t count_;
  std::vector<std::int64_t> item_shape_;
  torch::Tensor memory_;  // when not spilled
  int fd_ = -1;
  std::filesystem::path dir_;
};

// The most a store keeps in memory: 256 MiB, or a sixteenth of the memory available
// (`available` bytes, 0 when unknown) when that is less.
std::int64_t image_store_memory_bytes(std::int64_t available);

}  // namespace medadv::host
