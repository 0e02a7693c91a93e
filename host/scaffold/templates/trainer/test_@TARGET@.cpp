// Tests of @NAME@: its batch loss against the cross-entropy computed by hand, and
// training through the SDK loop on a task a tiny CNN can learn.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <medadv/testing.h>

#include "plugin_test_support.h"

namespace {

// Class 1 images are bright, class 0 dark, with pixel noise: learnable in a few epochs.
std::pair<torch::Tensor, torch::Tensor> bright_versus_dark(std::int64_t n, std::uint64_t seed) {
  at::Generator gen = medadv::compat::cpu_generator(seed);
  const torch::Tensor labels = torch::arange(n, torch::kInt64) % 2;
  const torch::Tensor level = 0.2 + 0.6 * labels.to(torch::kFloat32).view({n, 1, 1, 1});
  const torch::Tensor images = (level + 0.05 * torch::randn({n, 1, 16, 16}, gen)).clamp(0.0, 1.0);
  return {images, labels};
}

double accuracy(medadv::TappedModule& model, const torch::Tensor& x, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  return model.forward(x).argmax(1).eq(y).to(torch::kFloat32).mean().item<double>();
}

struct no_attacks : medadv::AttackFactory {
  std::shared_ptr<medadv::Attack> make(const std::string& plugin, const medadv::Value&) override {
    throw medadv::Error("this test offers no attack plugins (asked for '" + plugin + "')");
  }
};

TEST(@CLASS@, BatchLossMixesCleanAndFgsmCrossEntropy) {
  medadv::testing::TestContext ctx;
  const double epsilon = 8.0 / 255.0;
  @CLASS@ trainer(plugin_test::params_with({{"epsilon", medadv::Value(epsilon)}, {"adversarial_weight", medadv::Value(0.25)}}), ctx);
  @CLASS@ natural(plugin_test::params_with({{"epsilon", medadv::Value(0.0)}}), ctx);
  medadv::testing::TinyClassifier model(3, 3, 0);
  const torch::Tensor x = medadv::testing::random_images(8, 3, 16, 1);
  const torch::Tensor y = torch::arange(8, torch::kInt64) % 3;

  // The FGSM example by hand: backward() on the clean cross-entropy, one signed step.
  const torch::Tensor xr = x.clone().requires_grad_(true);
  const torch::Tensor clean = torch::nn::functional::cross_entropy(model.forward(xr), y);
  clean.backward();
  const torch::Tensor x_adv = (x + epsilon * xr.grad().sign()).clamp(0.0, 1.0);
  const torch::Tensor adversarial = torch::nn::functional::cross_entropy(model.forward(x_adv), y);
  model.zero_grad(/*set_to_none=*/true);

  EXPECT_NEAR(natural.batch_loss(model, x, y).item<double>(), clean.item<double>(), 1e-6);
  const torch::Tensor mixed = trainer.batch_loss(model, x, y);
  EXPECT_NEAR(mixed.item<double>(), 0.75 * clean.item<double>() + 0.25 * adversarial.item<double>(), 1e-5);
  // A signed gradient step raises the loss.
  EXPECT_GT(adversarial.item<double>(), clean.item<double>());
  // The input gradient left the weights' gradients alone; the mixed loss fills them.
  for (const auto& w : model.parameters()) EXPECT_FALSE(w.grad().defined());
  mixed.backward();
  for (const auto& w : model.parameters()) EXPECT_TRUE(w.grad().defined());
}

TEST(@CLASS@, LearnsBrightVersusDarkThroughTheSdkLoop) {
  medadv::testing::TestContext ctx;
  @CLASS@ trainer(plugin_test::params_with({{"epochs", medadv::Value(std::int64_t{10})}, {"lr", medadv::Value(0.01)}}), ctx);
  auto model = std::make_shared<medadv::testing::TinyClassifier>(1, 2, 0);
  medadv::TrainingSet data;
  const auto [train_x, train_y] = bright_versus_dark(64, 1);
  data.train = medadv::testing::sample_set(train_x, train_y);
  data.spec = medadv::ModelSpec{1, 2, 16, medadv::Task::Classification, {}, {}};
  const auto [test_x, test_y] = bright_versus_dark(64, 2);  // held out
  const double before = accuracy(*model, test_x, test_y);
  no_attacks attacks;

  trainer.train(*model, data, attacks, ctx);

  const double after = accuracy(*model, test_x, test_y);
  EXPECT_GE(after, 0.9) << "held-out accuracy before training: " << before;
  EXPECT_LT(before, after);  // the training did it, not a lucky initialisation
  EXPECT_FALSE(model->is_training());
}

TEST(@CLASS@, RefusesSegmentationModels) {
  medadv::testing::TestContext ctx;
  @CLASS@ trainer(plugin_test::params_with({}), ctx);
  medadv::testing::TinyClassifier model(1, 2, 0);
  medadv::TrainingSet data;
  data.train = medadv::testing::sample_set(medadv::testing::random_images(4, 1, 16, 1), torch::zeros({4, 1, 16, 16}),
                                           medadv::Task::Segmentation);
  data.spec = medadv::ModelSpec{1, 1, 16, medadv::Task::Segmentation, {}, {}};
  no_attacks attacks;
  EXPECT_THROW(trainer.train(model, data, attacks, ctx), medadv::InvalidInput);
}

}  // namespace
