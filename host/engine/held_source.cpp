#include "engine/held_source.h"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "loader/guard.h"
#include "medadv/error.h"

namespace medadv::host {

namespace {

std::string shape_text(const torch::Tensor& t) {
  return t.defined() ? c10::str(t.sizes()) + " " + c10::toString(t.scalar_type()) : std::string("undefined");
}

class HeldSource final : public DataSource {
 public:
  HeldSource(std::shared_ptr<DataSource> inner, std::string who, std::int64_t available_memory)
      : inner_(std::move(inner)), who_(std::move(who)) {
    size_ = guarded(who_, "size", [&] { return inner_->size(); });
    meta_ = guarded(who_, "meta", [&] { return inner_->meta(); });
    shape_ = guarded(who_, "item_shape", [&] { return inner_->item_shape(); });
    dtype_ = guarded(who_, "stored_dtype", [&] { return inner_->stored_dtype(); });
    has_masks_ = guarded(who_, "has_masks", [&] { return inner_->has_masks(); });
    labels_ = guarded(who_, "labels", [&] { return inner_->labels(); });
    expensive_reads_ = guarded(who_, "expensive_reads", [&] { return inner_->expensive_reads(); });
    if (labels_.defined()) labels_ = labels_.to(torch::kCPU, torch::kLong);
    if (shape_.size() == 3 && cached_bytes(*this, available_memory) > 0) {
      images_ = torch::empty({size_, shape_[0], shape_[1], shape_[2]}, dtype_);
      filled_ = torch::zeros({size_}, torch::kBool);
    }
  }

  std::int64_t size() const override { return size_; }
  const DatasetMeta& meta() const override { return meta_; }
  std::vector<std::int64_t> item_shape() const override { return shape_; }
  torch::ScalarType stored_dtype() const override { return dtype_; }
  bool has_masks() const override { return has_masks_; }
  torch::Tensor labels() const override { return labels_; }
  bool expensive_reads() const override { return expensive_reads_; }
  std::map<std::string, torch::Tensor> predefined_splits() const override {
    return guarded(who_, "predefined_splits", [&] { return inner_->predefined_splits(); });
  }

  StoredItems read(const torch::Tensor& indices) override {
    const auto index = indices.to(torch::kCPU, torch::kLong).reshape({-1});
    if (index.numel() > 0 && (index.min().item<std::int64_t>() < 0 || index.max().item<std::int64_t>() >= size_))
      throw Error("asked " + who_ + " for an item outside 0.." + std::to_string(size_ - 1));
    if (!images_.defined()) return checked_read(index);
    const auto missing = std::get<0>(at::_unique(index.masked_select(filled_.index_select(0, index).logical_not())));
    if (missing.numel() > 0) {
      StoredItems fresh = checked_read(missing);
      images_.index_copy_(0, missing, fresh.images);
      if (fresh.masks.defined()) {
        if (!masks_.defined()) masks_ = torch::empty({size_, 1, shape_[1], shape_[2]}, fresh.masks.scalar_type());
        masks_.index_copy_(0, missing, fresh.masks.to(masks_.scalar_type()));
      }
      filled_.index_fill_(0, missing, true);
    }
    StoredItems out;
    out.images = images_.index_select(0, index);
    if (masks_.defined()) out.masks = masks_.index_select(0, index);
    return out;
  }

 private:
  StoredItems checked_read(const torch::Tensor& index) {
    StoredItems items = guarded(who_, "read", [&] { return inner_->read(index); });
    const std::vector<std::int64_t> want = {index.numel(), shape_[0], shape_[1], shape_[2]};
    if (!items.images.defined() || items.images.sizes() != c10::IntArrayRef(want) || items.images.scalar_type() != dtype_)
      throw PluginFailure(who_ + " read " + shape_text(items.images) + " for " + std::to_string(index.numel()) +
                          " items of shape " + c10::str(c10::IntArrayRef(shape_)) + " stored as " +
                          c10::toString(dtype_));
    if (has_masks_ && (!items.masks.defined() || items.masks.size(0) != index.numel() || items.masks.dim() != 4 ||
                       items.masks.size(1) != 1 || items.masks.size(2) != shape_[1] || items.masks.size(3) != shape_[2]))
      throw PluginFailure(who_ + " read masks " + shape_text(items.masks) + " for " + std::to_string(index.numel()) +
                          " items; expected [B,1,H,W]");
    items.images = items.images.cpu();
    if (items.masks.defined()) items.masks = items.masks.cpu();
    return items;
  }

  std::shared_ptr<DataSource> inner_;
  std::string who_;
  std::int64_t size_ = 0;
  DatasetMeta meta_;
  std::vector<std::int64_t> shape_;
  torch::ScalarType dtype_ = torch::kFloat;
  bool has_masks_ = false;
  bool expensive_reads_ = true;
  torch::Tensor labels_;
  torch::Tensor images_, masks_, filled_;  // the cache, when the set fits
};

std::int64_t meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return 0;
}

std::int64_t cgroup_room() {
  std::ifstream max_file("/sys/fs/cgroup/memory.max"), current_file("/sys/fs/cgroup/memory.current");
  std::string max_text;
  std::int64_t current = 0;
  if (!(max_file >> max_text) || max_text == "max" || !(current_file >> current)) return 0;
  try {
    return std::max<std::int64_t>(0, std::stoll(max_text) - current);
  } catch (const std::exception&) {
    return 0;
  }
}

// What the process's data limit (RLIMIT_DATA: heap and private mappings) leaves, 0 when
// unlimited or unknown.
std::int64_t data_limit_room() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_DATA, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmData:") {
      std::int64_t kib = 0;
      status >> kib;
      return std::max<std::int64_t>(1, static_cast<std::int64_t>(limit.rlim_cur) - kib * 1024);
    }
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

}  // namespace

std::int64_t available_memory_bytes() {
  std::int64_t room = 0;
  for (const auto candidate : {meminfo_available(), cgroup_room(), data_limit_room()})
    if (candidate > 0) room = room > 0 ? std::min(room, candidate) : candidate;
  return room;
}

std::int64_t cached_bytes(const DataSource& source, std::int64_t available_memory) {
  if (!source.expensive_reads()) return 0;
  const auto bytes = source.size() * stored_bytes_per_item(source);
  return available_memory > 0 && bytes <= available_memory / 4 ? bytes : 0;
}

std::shared_ptr<DataSource> hold_source(std::shared_ptr<DataSource> plugin_source, const std::string& who) {
  return std::make_shared<HeldSource>(std::move(plugin_source), who, available_memory_bytes());
}

}  // namespace medadv::host
