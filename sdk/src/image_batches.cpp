#include "medadv/image_batches.h"

#include <string>
#include <utility>

#include "medadv/error.h"

namespace medadv {

ImageBatches::~ImageBatches() = default;

namespace {

class TensorBatches final : public ImageBatches {
 public:
  TensorBatches(torch::Tensor images, torch::Tensor labels) : images_(std::move(images)), labels_(std::move(labels)) {}
  std::int64_t size() const override { return images_.size(0); }
  torch::Tensor images(std::int64_t begin, std::int64_t end, c10::Device device) const override {
    if (begin < 0 || end < begin || end > size())
      throw InvalidInput("tensor_batches: rows " + std::to_string(begin) + ".." + std::to_string(end) +
                         " outside 0.." + std::to_string(size()));
    const auto rows = images_.slice(0, begin, end).to(device);
    return rows.is_floating_point() ? rows : rows.to(torch::kFloat);
  }
  torch::Tensor labels() const override { return labels_; }

 private:
  torch::Tensor images_, labels_;
};

}  // namespace

std::unique_ptr<ImageBatches> tensor_batches(torch::Tensor images, torch::Tensor labels) {
  if (!images.defined() || images.dim() < 2)
    throw InvalidInput("tensor_batches: images must be a batch [N,C,H,W], got " +
                       (images.defined() ? c10::str(images.sizes()) : std::string("undefined")));
  if (labels.defined() && (labels.dim() < 1 || labels.size(0) != images.size(0)))
    throw InvalidInput("tensor_batches: " + std::to_string(images.size(0)) + " images but labels of shape " +
                       c10::str(labels.sizes()));
  return std::make_unique<TensorBatches>(std::move(images), labels.defined() ? labels.cpu() : labels);
}

}  // namespace medadv
