#include "cached_source.h"

#include <utility>

#include "medadv/error.h"

namespace medadv::plugins::files {

namespace {

class CachedSource final : public DataSource {
 public:
  explicit CachedSource(CachedSet set) : set_(std::move(set)) {
    const auto& shape = set_.images.shape();
    if (shape.size() != 4) throw Error("cached images must be [N,C,H,W]");
    if (set_.meta.task == Task::Classification &&
        (!set_.labels.defined() || set_.labels.dim() != 1 || set_.labels.size(0) != shape[0]))
      throw Error("a cached classification set needs one label per image");
  }
  std::int64_t size() const override { return set_.images.shape()[0]; }
  const DatasetMeta& meta() const override { return set_.meta; }
  std::vector<std::int64_t> item_shape() const override {
    const auto& s = set_.images.shape();
    return {s[1], s[2], s[3]};
  }
  torch::ScalarType stored_dtype() const override { return set_.images.dtype(); }
  bool has_masks() const override { return set_.masks.has_value(); }
  torch::Tensor labels() const override { return set_.labels; }
  std::map<std::string, torch::Tensor> predefined_splits() const override { return set_.predefined_splits; }
  bool expensive_reads() const override { return false; }
  StoredItems read(const torch::Tensor& indices) override {
    StoredItems out;
    out.images = set_.images.rows(indices);
    if (set_.masks) out.masks = set_.masks->rows(indices);
    return out;
  }

 private:
  CachedSet set_;
};

}  // namespace

std::shared_ptr<DataSource> cached_source(CachedSet set) { return std::make_shared<CachedSource>(std::move(set)); }

}  // namespace medadv::plugins::files
