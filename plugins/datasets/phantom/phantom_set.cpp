#include "phantom_set.h"

#include <algorithm>
#include <atomic>
#include <sstream>
#include <utility>

#include <ATen/Parallel.h>

#include "medadv/error.h"
#include "medadv/torch_compat.h"

namespace medadv::plugins::phantom {

namespace {

class PhantomSource final : public medadv::DataSource {
 public:
  PhantomSource(std::string name, std::uint64_t seed, const PhantomSetShape& shape, medadv::DatasetMeta meta,
                PhantomDrawing drawing)
      : name_(std::move(name)), seed_(seed), shape_(shape), meta_(std::move(meta)), drawing_(std::move(drawing)) {
    labels_ = torch::empty({shape_.count}, torch::kInt64);
    auto* out = labels_.data_ptr<std::int64_t>();
    at::parallel_for(0, shape_.count, 256, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        auto gen = generator_of(i);
        out[i] = drawing_.label(gen);
      }
    });
  }

  std::int64_t size() const override { return shape_.count; }
  const medadv::DatasetMeta& meta() const override { return meta_; }
  std::vector<std::int64_t> item_shape() const override { return {shape_.channels, shape_.size, shape_.size}; }
  torch::ScalarType stored_dtype() const override { return torch::kFloat; }
  bool has_masks() const override { return true; }
  torch::Tensor labels() const override {
    return meta_.task == medadv::Task::Classification ? labels_ : torch::Tensor();
  }
  const torch::Tensor& drawn_labels() const { return labels_; }

  // Inside a worker each tensor operation runs serially, so small images do not pay for a
  // parallel region per operation; the drawing code uses no thread-dependent reductions,
  // so the result does not depend on the thread count.
  medadv::StoredItems read(const torch::Tensor& indices) override {
    const auto index = indices.to(torch::kCPU, torch::kLong).contiguous();
    const auto B = index.numel(), S = shape_.size;
    const auto* rows = index.data_ptr<std::int64_t>();
    for (std::int64_t r = 0; r < B; ++r)
      if (rows[r] < 0 || rows[r] >= shape_.count)
        throw medadv::InvalidInput(name_ + ": image " + std::to_string(rows[r]) + " asked of a set of " +
                                   std::to_string(shape_.count));
    medadv::StoredItems out;
    out.images = torch::empty({B, shape_.channels, S, S}, torch::kFloat32);
    out.masks = torch::empty({B, 1, S, S}, torch::kFloat32);
    std::atomic<std::int64_t> mismatched{-1};
    at::parallel_for(0, B, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t r = b; r < e; ++r) {
        auto gen = generator_of(rows[r]);
        PhantomSample sample = drawing_.draw(gen);
        out.images[r].copy_(sample.image);
        out.masks[r].copy_(sample.mask);
        if (sample.label != labels_.data_ptr<std::int64_t>()[rows[r]]) mismatched = rows[r];
      }
    });
    // The label draw must be the image draw's beginning; a phantom that breaks this would
    // train on labels that do not describe its images.
    if (mismatched >= 0)
      throw medadv::Error(name_ + ": image " + std::to_string(mismatched.load()) +
                          " was drawn with another label than its label draw gave");
    return out;
  }

 private:
  at::Generator generator_of(std::int64_t i) const {
    return medadv::compat::cpu_generator(medadv::derive_seed(seed_, "image/" + std::to_string(i)));
  }

  std::string name_;
  std::uint64_t seed_;
  PhantomSetShape shape_;
  medadv::DatasetMeta meta_;
  PhantomDrawing drawing_;
  torch::Tensor labels_;  // [N] int64, drawn for every task
};

}  // namespace

std::shared_ptr<medadv::DataSource> phantom_source(medadv::RunContext& ctx, const std::string& name,
                                                   const PhantomSetShape& shape, const std::string& modality,
                                                   std::vector<std::string> class_names,
                                                   const std::optional<std::string>& segmentation_target,
                                                   PhantomDrawing drawing) {
  medadv::DatasetMeta meta;
  meta.modality = modality;
  meta.task = segmentation_target ? medadv::Task::Segmentation : medadv::Task::Classification;
  meta.class_names = segmentation_target ? std::vector<std::string>{"background", *segmentation_target} : class_names;
  auto source = std::make_shared<PhantomSource>(name, ctx.seed_for(name), shape, std::move(meta), std::move(drawing));

  const auto counts = torch::bincount(source->drawn_labels(), {}, static_cast<std::int64_t>(class_names.size()));
  std::ostringstream msg;
  msg << shape.count << " images " << shape.size << "x" << shape.size << " (";
  for (std::size_t c = 0; c < class_names.size(); ++c)
    msg << (c ? ", " : "") << counts[static_cast<std::int64_t>(c)].item<std::int64_t>() << " " << class_names[c];
  msg << "), drawn when read";
  ctx.log().info(msg.str());
  return source;
}

}  // namespace medadv::plugins::phantom
