// Tests of @NAME@: determinism, shapes, ranges, labels and masks.
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
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx0(0), ctx1(1);
  @CLASS@ dataset(params, ctx0);
  EXPECT_FALSE(torch::equal(dataset.load(ctx0).images, dataset.load(ctx1).images));
}

}  // namespace
