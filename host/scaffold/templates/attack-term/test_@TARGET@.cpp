// Tests of @NAME@ on a tiny classifier.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

#include "plugin_test_support.h"

namespace {

TEST(@CLASS@, PerSampleLossAndDirection) {
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx;
  @CLASS@ up(params, ctx);
  @CLASS@ down(plugin_test::params_with({{"direction", medadv::Value("down")}}), ctx);
  auto model = plugin_test::tiny_model();
  const torch::Tensor x = medadv::testing::random_images(4, 3, 32, 1);
  const torch::Tensor y = torch::tensor({0, 1, 2, 0}, torch::kInt64);
  up.fit(*model, *medadv::tensor_batches(x, y), 4, ctx);
  down.fit(*model, *medadv::tensor_batches(x, y), 4, ctx);

  const torch::Tensor xr = x.clone().requires_grad_(true);
  const medadv::ModelOutput out = model->forward(xr, up.taps());
  const torch::Tensor lu = up.loss(out, xr, {}, {});
  const torch::Tensor ld = down.loss(out, xr, {}, {});
  ASSERT_EQ(lu.sizes().vec(), std::vector<std::int64_t>{4});
  EXPECT_TRUE(torch::allclose(ld, -lu));
  // The default tap is post-ReLU, so "up" starts from a non-negative mean.
  EXPECT_GE(lu.min().item<double>(), 0.0);
  // The attack needs a gradient from the term to the input.
  const torch::Tensor grad = torch::autograd::grad({lu.sum()}, {xr})[0];
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
}

TEST(@CLASS@, UnknownTapFailsInFit) {
  medadv::testing::TestContext ctx;
  @CLASS@ term(plugin_test::params_with({{"tap", medadv::Value("no-such-tap")}}), ctx);
  auto model = plugin_test::tiny_model();
  EXPECT_THROW(
      term.fit(*model, *medadv::tensor_batches(medadv::testing::random_images(2, 3, 32, 1), torch::tensor({0, 1})), 2,
               ctx),
      medadv::InvalidInput);
}

}  // namespace
