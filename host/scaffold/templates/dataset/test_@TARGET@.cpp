// Tests of @NAME@: determinism, shapes, ranges, labels and masks, and that an image does
// not depend on which others are read with it.
#include "@TARGET@.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

#include "plugin_test_support.h"

namespace {

TEST(@CLASS@, DeterministicWellFormedPhantoms) {
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx;
  @CLASS@ dataset(params, ctx);
  const auto source = dataset.open(ctx);
  const std::int64_t n = params.get_int("count"), size = params.get_int("image_size");
  ASSERT_EQ(source->size(), n);
  ASSERT_EQ(source->item_shape(), (std::vector<std::int64_t>{params.get_int("channels"), size, size}));

  const medadv::SampleSet all(source, torch::arange(n));
  const medadv::Batch a = all.all(torch::kCPU);
  const medadv::Batch b = medadv::SampleSet(dataset.open(ctx), torch::arange(n)).all(torch::kCPU);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  ASSERT_EQ(a.masks.sizes().vec(), (std::vector<std::int64_t>{n, 1, size, size}));
  EXPECT_EQ(a.images.scalar_type(), torch::kFloat32);
  EXPECT_GE(a.images.min().item<double>(), 0.0);
  EXPECT_LE(a.images.max().item<double>(), 1.0);
  EXPECT_EQ(source->meta().class_names.size(), 2u);

  const double fraction = a.labels.to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(fraction, params.get_float("lesion_fraction"), 1.0 / static_cast<double>(n) + 1e-9);
  // A mask is non-empty exactly for the lesion images.
  EXPECT_TRUE(torch::equal(a.masks.flatten(1).sum(1).gt(0), a.labels.eq(1)));
  // The lesion is brighter than any background pixel.
  const torch::Tensor inside = a.masks.to(torch::kBool).expand_as(a.images);
  EXPECT_GT(a.images.masked_select(inside).min().item<double>(),
            a.images.masked_select(inside.logical_not()).max().item<double>());
}

TEST(@CLASS@, AnImageDependsOnlyOnItsIndex) {
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx;
  @CLASS@ dataset(params, ctx);
  const auto source = dataset.open(ctx);
  const medadv::Batch in_order = medadv::SampleSet(source, torch::arange(8)).all(torch::kCPU);
  const medadv::Batch reversed = medadv::SampleSet(source, torch::arange(7, -1, -1)).all(torch::kCPU);
  EXPECT_TRUE(torch::equal(in_order.images, reversed.images.flip(0)));
}

TEST(@CLASS@, AnotherSeedGivesOtherImages) {
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx0(0), ctx1(1);
  @CLASS@ dataset(params, ctx0);
  const auto first = medadv::SampleSet(dataset.open(ctx0), torch::arange(8)).all(torch::kCPU);
  const auto second = medadv::SampleSet(dataset.open(ctx1), torch::arange(8)).all(torch::kCPU);
  EXPECT_FALSE(torch::equal(first.images, second.images));
}

}  // namespace
