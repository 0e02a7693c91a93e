// Tests of @NAME@: the score's range, closed-form values and its dependence on the
// temperature.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

#include "plugin_test_support.h"

namespace {

// Logits scale * mean(x) * (1, 0, -1): confident on bright inputs, uniform on black ones.
class sharp_model : public medadv::TappedModule {
 public:
  explicit sharp_model(double scale) : scale_(scale) {}
  std::vector<std::string> tap_names() const override { return {"logits"}; }
  medadv::ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    for (const auto& t : taps)
      if (t != "logits") throw medadv::Error("sharp_model has no tap '" + t + "'");
    medadv::ModelOutput out;
    out.logits = scale_ * x.flatten(1).mean(1, /*keepdim=*/true) * torch::tensor({1.0f, 0.0f, -1.0f});
    if (!taps.empty()) out.taps["logits"] = out.logits;
    return out;
  }

 private:
  double scale_;
};

TEST(@CLASS@, ScoresInRangeAndRisingWithTemperature) {
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx;
  @CLASS@ cold(params, ctx);
  @CLASS@ hot(plugin_test::params_with({{"temperature", medadv::Value(10.0)}}), ctx);
  const auto model = plugin_test::tiny_model();
  EXPECT_FALSE(cold.supervised());

  // No adversarial data: the detector is unsupervised.
  const medadv::DetectorFitData data =
      medadv::detector_fit_data(medadv::testing::random_images(16, 3, 32, 1), torch::arange(16, torch::kInt64) % 3);
  EXPECT_NO_THROW(cold.fit(*model, data, ctx, nullptr));

  torch::NoGradGuard no_grad;
  const torch::Tensor x = medadv::testing::random_images(8, 3, 32, 2);
  const torch::Tensor s1 = cold.score(*model, x);
  const torch::Tensor s10 = hot.score(*model, x);
  ASSERT_EQ(s1.sizes().vec(), std::vector<std::int64_t>{8});
  EXPECT_GE(s1.min().item<double>(), 0.0);
  EXPECT_LE(s1.max().item<double>(), 1.0 - 1.0 / 3.0 + 1e-6);
  // A higher temperature flattens the softmax, so every score rises.
  EXPECT_TRUE((s1 < s10).all().item<bool>());
}

TEST(@CLASS@, ClosedFormScoresAndGradient) {
  medadv::testing::TestContext ctx;
  @CLASS@ detector(plugin_test::params_with(), ctx);
  medadv::ModuleModel model(std::make_shared<sharp_model>(40.0), 3, medadv::Task::Classification);

  // Bright: logits (40, 0, -40), the model is certain, the score is ~e^-40.
  EXPECT_LT(detector.score(model, torch::ones({2, 3, 8, 8})).max().item<double>(), 1e-6);
  // Black: equal logits, the score is 1 - 1/3.
  EXPECT_TRUE(torch::allclose(detector.score(model, torch::zeros({2, 3, 8, 8})), torch::full({2}, 2.0f / 3.0f)));

  // differentiable() promises a gradient to the input for detector-evasion attacks.
  ASSERT_TRUE(detector.differentiable());
  const torch::Tensor x = torch::full({2, 3, 8, 8}, 0.05f).requires_grad_(true);
  const torch::Tensor grad = torch::autograd::grad({detector.score(model, x).sum()}, {x})[0];
  EXPECT_TRUE(torch::isfinite(grad).all().item<bool>());
  EXPECT_LT(grad.sum().item<double>(), 0.0);  // brighter -> more confident -> lower score
}

}  // namespace
