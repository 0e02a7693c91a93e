#include "engine/split_batches.h"

#include <utility>

namespace medadv::host {

namespace {

class SplitBatches final : public ImageBatches {
 public:
  SplitBatches(const SplitData& split, torch::Tensor labels) : split_(split), labels_(std::move(labels)) {}
  std::int64_t size() const override { return split_.size(); }
  torch::Tensor images(std::int64_t begin, std::int64_t end, c10::Device device) const override {
    return split_.images(begin, end, device);
  }
  torch::Tensor rows(const torch::Tensor& index, c10::Device device) const override {
    return split_.images_at(index, device);
  }
  torch::Tensor labels() const override { return labels_; }

 private:
  const SplitData& split_;
  torch::Tensor labels_;
};

class StoreBatches final : public ImageBatches {
 public:
  StoreBatches(const ImageStore& store, torch::Tensor labels) : store_(store), labels_(std::move(labels)) {}
  std::int64_t size() const override { return store_.size(); }
  torch::Tensor images(std::int64_t begin, std::int64_t end, c10::Device device) const override {
    return store_.read(begin, end).to(device);
  }
  torch::Tensor rows(const torch::Tensor& index, c10::Device device) const override {
    return store_.gather(index).to(device);
  }
  torch::Tensor labels() const override { return labels_; }

 private:
  const ImageStore& store_;
  torch::Tensor labels_;
};

}  // namespace

std::unique_ptr<ImageBatches> split_batches(const SplitData& split, torch::Tensor labels) {
  return std::make_unique<SplitBatches>(split, std::move(labels));
}

std::unique_ptr<ImageBatches> store_batches(const ImageStore& store, torch::Tensor labels) {
  return std::make_unique<StoreBatches>(store, std::move(labels));
}

}  // namespace medadv::host
