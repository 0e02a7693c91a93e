// Tests of @NAME@: shapes at two image sizes, taps, normalisation.
#include "@TARGET@.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

#include "plugin_test_support.h"

namespace {

TEST(@CLASS@, LogitsAndTapsAtTwoImageSizes) {
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx;
  @CLASS@ factory(params, ctx);
  auto net = factory.build(medadv::ModelSpec{3, 4, 32, medadv::Task::Classification, {}, {}});
  net->eval();
  torch::NoGradGuard no_grad;
  for (const std::int64_t size : {32, 48}) {
    const medadv::ModelOutput out =
        net->forward_taps(medadv::testing::random_images(2, 3, size, 1), net->tap_names());
    EXPECT_EQ(out.logits.sizes().vec(), (std::vector<std::int64_t>{2, 4})) << "image size " << size;
    EXPECT_TRUE(torch::isfinite(out.logits).all().item<bool>());
    for (const auto& tap : net->tap_names()) {
      ASSERT_EQ(out.taps.count(tap), 1u) << "tap " << tap << " at image size " << size;
      EXPECT_EQ(out.taps.at(tap).size(0), 2) << "tap " << tap << " at image size " << size;
    }
  }
  EXPECT_THROW(net->forward_taps(medadv::testing::random_images(2, 3, 32, 1), {"no-such-tap"}), medadv::Error);
}

TEST(@CLASS@, NormalisationFollowsTheSpec) {
  medadv::testing::TestContext ctx;
  @CLASS@ factory(plugin_test::params_with(), ctx);
  auto build = [&](std::vector<double> mean, std::vector<double> std) {
    torch::manual_seed(0);  // same weights for every build
    auto net = factory.build(medadv::ModelSpec{3, 2, 32, medadv::Task::Classification, mean, std});
    net->eval();
    return net;
  };
  const torch::Tensor x = medadv::testing::random_images(2, 3, 32, 1);
  torch::NoGradGuard no_grad;
  const torch::Tensor by_default = build({}, {})->forward(x);
  // (x - 0.5) / 0.5 is the default, so spelling it out changes nothing; another mean does.
  EXPECT_TRUE(torch::allclose(build({0.5, 0.5, 0.5}, {0.5})->forward(x), by_default));
  EXPECT_FALSE(torch::allclose(build({0.2}, {0.5})->forward(x), by_default));
  EXPECT_THROW(build({0.5, 0.5}, {}), medadv::InvalidInput);
  EXPECT_THROW(factory.build(medadv::ModelSpec{3, 2, 32, medadv::Task::Segmentation, {}, {}}), medadv::InvalidInput);
}

}  // namespace
