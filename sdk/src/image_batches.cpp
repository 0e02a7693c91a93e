#include "medadv/image_batches.h"

#include <string>
#include <vector>
#include <utility>

#include "medadv/error.h"

namespace medadv {

ImageBatches::~ImageBatches() = default;

torch::Tensor ImageBatches::rows(const torch::Tensor& index, c10::Device device) const {
  const auto wanted = index.to(torch::kCPU, torch::kLong).contiguous();
  const std::int64_t n = wanted.numel();
  const auto* at = wanted.data_ptr<std::int64_t>();
  std::vector<torch::Tensor> runs;
  for (std::int64_t i = 0; i < n;) {
    std::int64_t j = i + 1;
    while (j < n && at[j] == at[j - 1] + 1) ++j;
    runs.push_back(images(at[i], at[j - 1] + 1, device));
    i = j;
  }
  if (runs.empty()) return images(0, 0, device);
  return runs.size() == 1 ? runs.front() : torch::cat(runs);
}

namespace {

void check_index(const char* who, const torch::Tensor& index, std::int64_t size) {
  if (!index.defined() || index.dim() != 1 || index.is_floating_point())
    throw InvalidInput(std::string(who) + ": the row index must be an integer vector");
  if (index.numel() > 0 && (index.min().item<std::int64_t>() < 0 || index.max().item<std::int64_t>() >= size))
    throw InvalidInput(std::string(who) + ": row index outside 0.." + std::to_string(size - 1));
}

class TensorBatches final : public ImageBatches {
 public:
  TensorBatches(torch::Tensor images, torch::Tensor labels) : images_(std::move(images)), labels_(std::move(labels)) {}
  std::int64_t size() const override { return images_.size(0); }
  torch::Tensor images(std::int64_t begin, std::int64_t end, c10::Device device) const override {
    if (begin < 0 || end < begin || end > size())
      throw InvalidInput("tensor_batches: rows " + std::to_string(begin) + ".." + std::to_string(end) +
                         " outside 0.." + std::to_string(size()));
    return as_float(images_.slice(0, begin, end).to(device));
  }
  torch::Tensor rows(const torch::Tensor& index, c10::Device device) const override {
    check_index("tensor_batches", index, size());
    return as_float(images_.index_select(0, index.to(images_.device(), torch::kLong)).to(device));
  }
  torch::Tensor labels() const override { return labels_; }

 private:
  static torch::Tensor as_float(const torch::Tensor& t) { return t.is_floating_point() ? t : t.to(torch::kFloat); }
  torch::Tensor images_, labels_;
};

class RowBatches final : public ImageBatches {
 public:
  RowBatches(std::shared_ptr<const ImageBatches> base, torch::Tensor index)
      : base_(std::move(base)), index_(std::move(index)) {
    const torch::Tensor base_labels = base_->labels();
    if (base_labels.defined()) labels_ = base_labels.index_select(0, index_);
  }
  std::int64_t size() const override { return index_.size(0); }
  torch::Tensor images(std::int64_t begin, std::int64_t end, c10::Device device) const override {
    if (begin < 0 || end < begin || end > size())
      throw InvalidInput("rows_of: rows " + std::to_string(begin) + ".." + std::to_string(end) + " outside 0.." +
                         std::to_string(size()));
    return base_->rows(index_.slice(0, begin, end), device);
  }
  torch::Tensor rows(const torch::Tensor& index, c10::Device device) const override {
    check_index("rows_of", index, size());
    return base_->rows(index_.index_select(0, index.to(torch::kCPU, torch::kLong)), device);
  }
  torch::Tensor labels() const override { return labels_; }

 private:
  std::shared_ptr<const ImageBatches> base_;
  torch::Tensor index_, labels_;
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

std::unique_ptr<ImageBatches> rows_of(std::shared_ptr<const ImageBatches> base, torch::Tensor index) {
  if (!base) throw InvalidInput("rows_of: no ImageBatches to read from");
  check_index("rows_of", index, base->size());
  return std::make_unique<RowBatches>(std::move(base), index.to(torch::kCPU, torch::kLong).contiguous());
}

}  // namespace medadv
