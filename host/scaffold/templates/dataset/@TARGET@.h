#pragma once
// @NAME@: a procedural "bright blob" phantom data set with lesion masks.
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <algorithm>
#include <cmath>
#include <cstdint>
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

  medadv::DatasetContents load(medadv::RunContext& ctx) override {
    // A stream of its own, derived from the run's seed: the same seed gives the same
    // images whatever else in the run draws random numbers.
    at::Generator gen = medadv::compat::cpu_generator(ctx.seed_for("dataset/@NAME@"));
    const std::int64_t n = count_, s = size_, c = channels_;
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);

    // Smooth background: coarse noise upsampled, texture without edges, in [0.15, 0.5]
    // so that the lesion stays the brightest thing in the image.
    const std::int64_t coarse = std::max<std::int64_t>(2, s / 8);
    torch::Tensor background = torch::rand({n, c, coarse, coarse}, gen, f32);
    background = torch::nn::functional::interpolate(background, torch::nn::functional::InterpolateFuncOptions()
                                                                    .size(std::vector<std::int64_t>{s, s})
                                                                    .mode(torch::kBilinear)
                                                                    .align_corners(false));
    background = 0.15 + 0.35 * background;

    // Exactly round(fraction * n) lesion images, at shuffled indices.
    const auto lesions = static_cast<std::int64_t>(std::llround(lesion_fraction_ * static_cast<double>(n)));
    torch::Tensor labels = torch::zeros({n}, torch::kInt64);
    labels.index_fill_(0, torch::randperm(n, gen).slice(0, 0, lesions), 1);

    // One disk per image, entirely inside it; kept only where the label is 1.
    const std::int64_t radius = std::max<std::int64_t>(2, s / 10);
    const torch::Tensor cy = torch::randint(radius, s - radius, {n, 1, 1}, gen).to(torch::kFloat32);
    const torch::Tensor cx = torch::randint(radius, s - radius, {n, 1, 1}, gen).to(torch::kFloat32);
    const torch::Tensor grid = torch::arange(s, f32);
    const torch::Tensor dist2 = (grid.view({1, s, 1}) - cy).pow(2) + (grid.view({1, 1, s}) - cx).pow(2);
    const torch::Tensor disk = dist2.le(static_cast<double>(radius * radius)).to(torch::kFloat32);
    const torch::Tensor masks = (disk * labels.to(torch::kFloat32).view({n, 1, 1})).unsqueeze(1);  // [N,1,H,W]

    medadv::DatasetContents d;
    d.images = (background * (1.0 - masks) + 0.9 * masks).clamp(0.0, 1.0);
    d.labels = labels;
    d.masks = masks;
    d.meta.task = medadv::Task::Classification;
    d.meta.class_names = {"healthy", "lesion"};
    d.meta.modality = "synthetic";
    return d;
  }

 private:
  std::int64_t count_, size_, channels_;
  double lesion_fraction_;
};
