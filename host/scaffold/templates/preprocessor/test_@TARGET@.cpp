// Tests of @NAME@: closed-form properties of rounding to 2^bits levels.
#include "@TARGET@.h"

#include <cstdint>
#include <tuple>

#include <gtest/gtest.h>
#include <medadv/testing.h>

#include "plugin_test_support.h"

namespace {

TEST(@CLASS@, QuantisesToTwoToTheBitsLevels) {
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx;
  @CLASS@ pre(params, ctx);
  const std::int64_t levels = std::int64_t{1} << params.get_int("bits");

  const torch::Tensor x = medadv::testing::random_images(4, 3, 32, 1);
  const torch::Tensor y = pre.transform(x);
  ASSERT_EQ(y.sizes().vec(), x.sizes().vec());
  const torch::Tensor distinct = std::get<0>(torch::unique_consecutive(std::get<0>(y.flatten().sort())));
  EXPECT_LE(distinct.numel(), levels);
  EXPECT_GE(y.min().item<double>(), 0.0);
  EXPECT_LE(y.max().item<double>(), 1.0);
  // Rounding moves each value by at most half a step, and a second pass changes nothing.
  EXPECT_LE((y - x).abs().max().item<double>(), 0.5 / static_cast<double>(levels - 1) + 1e-6);
  EXPECT_TRUE(torch::equal(pre.transform(y), y));
}

TEST(@CLASS@, BpdaForwardIsTheTransformAndBackwardTheIdentity) {
  medadv::testing::TestContext ctx;
  @CLASS@ pre(plugin_test::params_with(), ctx);
  const torch::Tensor x = medadv::testing::random_images(2, 3, 16, 2).requires_grad_(true);
  const torch::Tensor y = medadv::bpda(pre, x);
  EXPECT_TRUE(torch::allclose(y, pre.transform(x.detach())));
  y.sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), torch::ones_like(x)));
}

}  // namespace
