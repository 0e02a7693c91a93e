#pragma once
// @NAME@: a procedural "bright blob" phantom data set with lesion masks, offered as an
// indexable source: image i is drawn when the host reads it, from a generator of its own
// (the run's seed and i), so a set of any count costs no memory and any subset of it
// reads the same pixels.
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::Dataset {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_int("count", 64, "number of images").min(2);
    s.add_int("image_size", 32, "height and width in pixels").min(8).max(1024);
    s.add_int("channels", 1, "image channels: 1 (grey) to 3").min(1).max(3);
    s.add_float("lesion_fraction", 0.5, "fraction of images that contain a lesion (label 1)").min(0.0).max(1.0);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/)
      : count_(p.get_int("count")),
        size_(p.get_int("image_size")),
        channels_(p.get_int("channels")),
        lesion_fraction_(p.get_float("lesion_fraction")) {}

  // A stream of its own, derived from the run's seed: the same seed gives the same images
  // whatever else in the run draws random numbers. Opening draws only the labels.
  std::shared_ptr<medadv::DataSource> open(medadv::RunContext& ctx) override;

 private:
  std::int64_t count_, size_, channels_;
  double lesion_fraction_;
};

class @CLASS@Source : public medadv::DataSource {
 public:
  @CLASS@Source(std::uint64_t seed, std::int64_t count, std::int64_t size, std::int64_t channels, double lesion_fraction)
      : seed_(seed), count_(count), size_(size), channels_(channels) {
    meta_.task = medadv::Task::Classification;
    meta_.class_names = {"healthy", "lesion"};
    meta_.modality = "synthetic";
    // Exactly round(fraction * count) lesion images, at shuffled indices: the labels are
    // known before any image is drawn, as the host needs them to split.
    at::Generator gen = medadv::compat::cpu_generator(medadv::derive_seed(seed_, "labels"));
    const auto lesions = static_cast<std::int64_t>(std::llround(lesion_fraction * static_cast<double>(count)));
    labels_ = torch::zeros({count}, torch::kInt64);
    labels_.index_fill_(0, torch::randperm(count, gen).slice(0, 0, lesions), 1);
  }

  std::int64_t size() const override { return count_; }
  const medadv::DatasetMeta& meta() const override { return meta_; }
  std::vector<std::int64_t> item_shape() const override { return {channels_, size_, size_}; }
  // 8-bit pixels, as most medical images are stored: a quarter of their float size.
  torch::ScalarType stored_dtype() const override { return torch::kUInt8; }
  bool has_masks() const override { return true; }
  torch::Tensor labels() const override { return labels_; }

  medadv::StoredItems read(const torch::Tensor& indices) override {
    const auto index = indices.to(torch::kCPU, torch::kInt64).contiguous();
    const std::int64_t b = index.numel();
    medadv::StoredItems out;
    out.images = torch::empty({b, channels_, size_, size_}, torch::kUInt8);
    out.masks = torch::empty({b, 1, size_, size_}, torch::kUInt8);
    for (std::int64_t r = 0; r < b; ++r) {
      const std::int64_t i = index[r].item<std::int64_t>();
      if (i < 0 || i >= count_) throw medadv::InvalidInput("@NAME@: no image " + std::to_string(i));
      torch::Tensor mask;
      out.images[r].copy_(draw(i, &mask));
      out.masks[r].copy_(mask);
    }
    return out;
  }

 private:
  // Image i as 8-bit pixels [C,S,S] and its mask [1,S,S] (0/1).
  torch::Tensor draw(std::int64_t i, torch::Tensor* mask) const {
    at::Generator gen = medadv::compat::cpu_generator(medadv::derive_seed(seed_, "image/" + std::to_string(i)));
    const std::int64_t s = size_, c = channels_;
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);

    // Smooth background: coarse noise upsampled, texture without edges, in [0.15, 0.5]
    // so that the lesion stays the brightest thing in the image.
    const std::int64_t coarse = std::max<std::int64_t>(2, s / 8);
    torch::Tensor background = torch::rand({1, c, coarse, coarse}, gen, f32);
    background = torch::nn::functional::interpolate(background, torch::nn::functional::InterpolateFuncOptions()
                                                                    .size(std::vector<std::int64_t>{s, s})
                                                                    .mode(torch::kBilinear)
                                                                    .align_corners(false))
                     .squeeze(0);
    background = 0.15 + 0.35 * background;

    // One disk entirely inside the image, for lesion images only.
    const std::int64_t radius = std::max<std::int64_t>(2, s / 10);
    const double cy = static_cast<double>(torch::randint(radius, s - radius, {1}, gen).item<std::int64_t>());
    const double cx = static_cast<double>(torch::randint(radius, s - radius, {1}, gen).item<std::int64_t>());
    const torch::Tensor grid = torch::arange(s, f32);
    const torch::Tensor dist2 = (grid.view({s, 1}) - cy).pow(2) + (grid.view({1, s}) - cx).pow(2);
    const bool lesion = labels_[i].item<std::int64_t>() == 1;
    const torch::Tensor disk = dist2.le(static_cast<double>(radius * radius)).to(torch::kFloat32) * (lesion ? 1.0 : 0.0);
    *mask = disk.unsqueeze(0).to(torch::kUInt8);
    const torch::Tensor image = (background * (1.0 - disk) + 0.9 * disk).clamp(0.0, 1.0);
    return image.mul(255.0).round().to(torch::kUInt8);
  }

  std::uint64_t seed_;
  std::int64_t count_, size_, channels_;
  medadv::DatasetMeta meta_;
  torch::Tensor labels_;
};

inline std::shared_ptr<medadv::DataSource> @CLASS@::open(medadv::RunContext& ctx) {
  return std::make_shared<@CLASS@Source>(ctx.seed_for("dataset/@NAME@"), count_, size_, channels_, lesion_fraction_);
}
