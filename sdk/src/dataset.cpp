#include "medadv/dataset.h"

#include <utility>

#include "medadv/error.h"

namespace medadv {

DataSource::~DataSource() = default;
std::map<std::string, torch::Tensor> DataSource::predefined_splits() const { return {}; }
bool DataSource::expensive_reads() const { return true; }

std::int64_t stored_bytes_per_item(const DataSource& source) {
  const auto shape = source.item_shape();
  std::int64_t pixels = 1;
  for (auto d : shape) pixels *= d;
  // A mask is one channel of the image's size, stored no wider than the image.
  if (source.has_masks() && shape.size() == 3) pixels += shape[1] * shape[2];
  return pixels * static_cast<std::int64_t>(c10::elementSize(source.stored_dtype()));
}

namespace {

// The dtypes images may be stored in; `what` names them in the message.
void require_storable(torch::ScalarType t, const std::string& what) {
  if (t != torch::kFloat && t != torch::kByte && t != torch::kShort)
    throw InvalidInput(what + " must be uint8, int16 (uint16 pixels) or float32, not " + c10::toString(t));
}

std::string shape_text(const torch::Tensor& t) { return t.defined() ? c10::str(t.sizes()) : "undefined"; }

}  // namespace

torch::Tensor stored_to_float(const torch::Tensor& stored, const torch::Device& device) {
  require_storable(stored.scalar_type(), "stored images");
  switch (stored.scalar_type()) {
    case torch::kByte: return stored.to(device).to(torch::kFloat).div_(255.0);
    // LibTorch 1.13 has no uint16: such pixels travel as their bits in int16.
    case torch::kShort: return stored.to(device).to(torch::kInt32).bitwise_and_(0xFFFF).to(torch::kFloat).div_(65535.0);
    default: return stored.to(device);
  }
}

namespace {

class TensorSource final : public DataSource {
 public:
  bool expensive_reads() const override { return false; }  // the items are in memory already
  explicit TensorSource(DatasetContents c) : c_(std::move(c)) {
    if (!c_.images.defined() || c_.images.dim() != 4)
      throw InvalidInput("a data set's images must be [N,C,H,W], got " + shape_text(c_.images));
    require_storable(c_.images.scalar_type(), "a data set's images");
    const auto n = c_.images.size(0);
    if (c_.meta.task == Task::Classification &&
        (!c_.labels.defined() || c_.labels.dim() != 1 || c_.labels.size(0) != n))
      throw InvalidInput("a classification data set needs labels [" + std::to_string(n) + "], got " +
                         shape_text(c_.labels));
    if (c_.masks.defined() && (c_.masks.dim() != 4 || c_.masks.size(0) != n || c_.masks.size(1) != 1 ||
                               c_.masks.size(2) != c_.images.size(2) || c_.masks.size(3) != c_.images.size(3)))
      throw InvalidInput("a data set's masks must be [N,1,H,W] like its images " + shape_text(c_.images) + ", got " +
                         shape_text(c_.masks));
    if (c_.meta.task == Task::Segmentation && !c_.masks.defined())
      throw InvalidInput("a segmentation data set needs masks [" + std::to_string(n) + ",1,H,W]");
    c_.images = c_.images.cpu().contiguous();
    if (c_.labels.defined()) c_.labels = c_.labels.to(torch::kCPU, torch::kLong);
    if (c_.masks.defined()) c_.masks = c_.masks.cpu().contiguous();
    if (c_.meta.task == Task::Segmentation) c_.labels = torch::Tensor();
  }
  std::int64_t size() const override { return c_.images.size(0); }
  const DatasetMeta& meta() const override { return c_.meta; }
  std::vector<std::int64_t> item_shape() const override {
    return {c_.images.size(1), c_.images.size(2), c_.images.size(3)};
  }
  torch::ScalarType stored_dtype() const override { return c_.images.scalar_type(); }
  bool has_masks() const override { return c_.masks.defined(); }
  torch::Tensor labels() const override { return c_.labels; }
  std::map<std::string, torch::Tensor> predefined_splits() const override { return c_.predefined_splits; }
  StoredItems read(const torch::Tensor& indices) override {
    StoredItems out;
    out.images = c_.images.index_select(0, indices);
    if (c_.masks.defined()) out.masks = c_.masks.index_select(0, indices);
    return out;
  }

 private:
  DatasetContents c_;
};

}  // namespace

std::shared_ptr<DataSource> tensor_source(DatasetContents contents) {
  return std::make_shared<TensorSource>(std::move(contents));
}

SampleSet::SampleSet(std::shared_ptr<DataSource> source, torch::Tensor indices)
    : source_(std::move(source)), indices_(indices.to(torch::kCPU, torch::kLong).reshape({-1})) {
  if (!source_) throw InvalidInput("a sample set needs a source");
}

Task SampleSet::task() const { return source_ ? source_->meta().task : Task::Classification; }

torch::Tensor SampleSet::labels() const {
  if (!source_) return {};
  const auto all = source_->labels();
  return all.defined() ? all.index_select(0, indices_) : all;
}

Batch SampleSet::gather(const torch::Tensor& positions, const torch::Device& device) const {
  Batch b;
  if (!source_) return b;
  const auto rows = indices_.index_select(0, positions.to(torch::kCPU, torch::kLong));
  StoredItems items = source_->read(rows);
  if (!items.images.defined() || items.images.dim() != 4 || items.images.size(0) != rows.numel())
    throw Error("the data set returned images " + shape_text(items.images) + " for " +
                        std::to_string(rows.numel()) + " indices");
  b.images = stored_to_float(items.images, device);
  if (items.masks.defined()) b.masks = items.masks.to(device).to(torch::kFloat);
  const auto all = source_->labels();
  if (all.defined()) b.labels = all.index_select(0, rows).to(device);
  return b;
}

Batch SampleSet::slice(std::int64_t begin, std::int64_t end, const torch::Device& device) const {
  return gather(torch::arange(begin, end, torch::kLong), device);
}

SampleSet SampleSet::subset(const torch::Tensor& positions) const {
  return SampleSet(source_, indices_.index_select(0, positions.to(torch::kCPU, torch::kLong)));
}

}  // namespace medadv
