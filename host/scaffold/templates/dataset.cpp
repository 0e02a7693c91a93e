// The `medadv new dataset` template: the plugin class and its test.
#include "scaffold/kind_template.h"

namespace medadv::host::scaffold {

KindTemplate dataset_template() {
  KindTemplate t;
  t.helper = "dataset";
  t.threat = "";
  t.summary = "Procedural bright-blob phantom with lesion masks";
  t.about = R"TPL(A synthetic data set that needs no files: smooth random backgrounds, and in a
`lesion_fraction` of the images a small bright disk at a random position (label 1,
"lesion"; the others are label 0, "healthy"). The disk's mask is returned in `masks`,
so lesion-localised attacks and reports can use it. Generated from the run's seed: the
same seed gives the same images.

| parameter | type | default | meaning |
|-----------|------|---------|---------|
| `count` | int >= 2 | `64` | number of images |
| `image_size` | int in [8, 1024] | `32` | height and width in pixels |
| `channels` | int in [1, 3] | `1` | 1 (grey) to 3 channels |
| `lesion_fraction` | float in [0, 1] | `0.5` | fraction of images with a lesion |

A data set read from disk would take a `path` parameter (`s.add_string("path", "",
"...").required()`), decode once into `ctx.cache_dir()`, and return its own splits in
`predefined_splits` if it has them.)TPL";
  t.header = R"TPL(#pragma once
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
)TPL";
  t.test = R"TPL(// Tests of @NAME@: determinism, shapes, ranges, labels and masks.
#include "@TARGET@.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

namespace {

TEST(@CLASS@, DeterministicWellFormedPhantoms) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ dataset(params, ctx);

  const medadv::DatasetContents a = dataset.load(ctx);
  const medadv::DatasetContents b = dataset.load(ctx);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));

  const std::int64_t n = params.get_int("count"), size = params.get_int("image_size");
  ASSERT_EQ(a.images.sizes().vec(), (std::vector<std::int64_t>{n, params.get_int("channels"), size, size}));
  ASSERT_EQ(a.labels.sizes().vec(), std::vector<std::int64_t>{n});
  ASSERT_EQ(a.masks.sizes().vec(), (std::vector<std::int64_t>{n, 1, size, size}));
  EXPECT_EQ(a.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(a.labels.scalar_type(), torch::kInt64);
  EXPECT_GE(a.images.min().item<double>(), 0.0);
  EXPECT_LE(a.images.max().item<double>(), 1.0);
  EXPECT_EQ(a.meta.class_names.size(), 2u);

  const double fraction = a.labels.to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(fraction, params.get_float("lesion_fraction"), 1.0 / static_cast<double>(n) + 1e-9);
  // A mask is non-empty exactly for the lesion images.
  EXPECT_TRUE(torch::equal(a.masks.flatten(1).sum(1).gt(0), a.labels.eq(1)));
  // The lesion is brighter than any background pixel.
  const torch::Tensor inside = a.masks.to(torch::kBool).expand_as(a.images);
  EXPECT_GT(a.images.masked_select(inside).min().item<double>(),
            a.images.masked_select(inside.logical_not()).max().item<double>());
}

TEST(@CLASS@, AnotherSeedGivesOtherImages) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx0(0), ctx1(1);
  @CLASS@ dataset(params, ctx0);
  EXPECT_FALSE(torch::equal(dataset.load(ctx0).images, dataset.load(ctx1).images));
}

}  // namespace
)TPL";
  return t;
}

}  // namespace medadv::host::scaffold
