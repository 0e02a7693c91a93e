// Tests of @NAME@ around a tiny classifier.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

#include "plugin_test_support.h"

namespace {

TEST(@CLASS@, WithoutNoiseItIsTheBaseModel) {
  const auto params = plugin_test::params_with({{"sigma", medadv::Value(0.0)}});
  medadv::testing::TestContext ctx;
  @CLASS@ wrapper(params, ctx);
  auto base = plugin_test::tiny_model();
  auto wrapped = wrapper.wrap(base, ctx);
  EXPECT_FALSE(wrapper.randomized());
  EXPECT_FALSE(wrapped->randomized());
  const torch::Tensor x = medadv::testing::random_images(4, 3, 32, 1);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(wrapped->logits(x), base->logits(x)));
}

TEST(@CLASS@, AveragesNoisyForwardsWithGradients) {
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx;
  @CLASS@ wrapper(params, ctx);
  auto wrapped = wrapper.wrap(plugin_test::tiny_model(), ctx);
  EXPECT_TRUE(wrapper.randomized());
  EXPECT_TRUE(wrapped->randomized());

  const torch::Tensor x = medadv::testing::random_images(4, 3, 32, 1).requires_grad_(true);
  const medadv::ModelOutput out = wrapped->forward(x, {"penultimate"});
  EXPECT_EQ(out.logits.sizes().vec(), (std::vector<std::int64_t>{4, 3}));
  EXPECT_EQ(out.tap("penultimate").size(0), 4);
  // EOT attacks differentiate through the noisy copies.
  const torch::Tensor grad = torch::autograd::grad({out.logits.sum()}, {x})[0];
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
  // Fresh noise on every call.
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(torch::equal(wrapped->logits(x), wrapped->logits(x)));
}

TEST(@CLASS@, SameSeedSameNoise) {
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx_a(7), ctx_b(7);
  @CLASS@ a(params, ctx_a), b(params, ctx_b);
  auto base = plugin_test::tiny_model();
  const torch::Tensor x = medadv::testing::random_images(4, 3, 32, 1);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(a.wrap(base, ctx_a)->logits(x), b.wrap(base, ctx_b)->logits(x)));
}

}  // namespace
