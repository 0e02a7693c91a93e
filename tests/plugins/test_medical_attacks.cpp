// SMA, the stabilized medical attack (plugins/attacks/medical): its blur kernel and KL
// term against hand computations; lambda = 0 is I-FGSM exactly (the gradient family's
// pgd without random start); budgets; and on the trained fundus classifier a
// perturbation smoother than I-FGSM's at the same budget.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <string>

#include <medadv/metrics.h>
#include <medadv/testing.h>

#include "attacks/gradient/pgd.h"
#include "attacks/medical/sma.h"
#include "attack_test_kit.h"
#include "trained_victims.h"

namespace {

namespace medical = medadv::plugins::medical;
using namespace medadv::attack_testing;

template <class T>
medadv::AttackResult run_on_victim(const std::string& name, Value::Table overrides,
                                const medadv::testing::TrainedVictim& v, const AttackBatch& batch,
                                const Objective& objective = Objective(BaseLoss::CrossEntropy, false)) {
  medadv::testing::TestContext ctx(3);
  T attack(params_of<T>(name, std::move(overrides)), ctx);
  medadv::Capability capability = v.white_box();
  return attack.run(batch, capability, objective, ctx);
}

// High-frequency energy of a perturbation: mean |r - G*r| with SMA's own blur.
double roughness(const torch::Tensor& r) {
  return (r - medical::blur_depthwise(r, medical::gaussian_kernel(3, 1.0))).abs().mean().item<double>();
}

TEST(Sma, BlurKernelAndKlTermMatchHandComputation) {
  // kernel 3, sigma 1: weights exp(-(i^2 + j^2) / 2), normalised; symmetric.
  const auto k = medical::gaussian_kernel(3, 1.0);
  const double total = 1 + 4 * std::exp(-0.5) + 4 * std::exp(-1.0);
  EXPECT_NEAR(k[1][1].item<double>(), 1 / total, 1e-12);
  EXPECT_NEAR(k[0][1].item<double>(), std::exp(-0.5) / total, 1e-12);
  EXPECT_NEAR(k[0][0].item<double>(), std::exp(-1.0) / total, 1e-12);
  EXPECT_TRUE(torch::allclose(k, k.t()));
  EXPECT_TRUE(torch::allclose(k, k.flip({0})));
  EXPECT_THROW(medical::gaussian_kernel(4, 1.0), medadv::InvalidInput);
  // Blurring a unit impulse per channel gives the kernel around it; nothing mixes channels.
  auto impulse = torch::zeros({1, 2, 5, 5});
  impulse[0][1][2][2] = 1.0;
  const auto blurred = medical::blur_depthwise(impulse, k);
  EXPECT_TRUE(torch::allclose(blurred[0][1].slice(0, 1, 4).slice(1, 1, 4), k.to(torch::kFloat)));
  EXPECT_EQ(blurred[0][0].abs().sum().item<double>(), 0.0);

  // KL(softmax p || softmax q) per sample, by hand for two classes.
  const auto zp = torch::tensor({{1.0, 0.0}, {0.0, 0.0}}), zq = torch::tensor({{0.0, 1.0}, {0.0, 0.0}});
  const double a = 1 / (1 + std::exp(-1.0));  // softmax(1, 0)[0]
  const double kl = a * std::log(a / (1 - a)) + (1 - a) * std::log((1 - a) / a);
  const auto kl_per_sample = medical::output_kl_per_sample(zp, zq);
  EXPECT_NEAR(kl_per_sample[0].item<double>(), kl, 1e-6);
  EXPECT_NEAR(kl_per_sample[1].item<double>(), 0.0, 1e-7);
  // Segmentation with one logit: a Bernoulli KL per pixel, averaged; the same numbers.
  const auto sp = torch::tensor({1.0, 0.0}).view({1, 1, 1, 2}), sq = torch::tensor({-1.0, 0.0}).view({1, 1, 1, 2});
  EXPECT_NEAR(medical::output_kl_per_sample(sp, sq)[0].item<double>(), kl / 2, 1e-6);
}

TEST(Sma, IsIFgsmAtLambdaZeroAndSmootherThanItWithTheStabilisation) {
  const auto& v = medadv::testing::fundus_small_cnn();
  const AttackBatch batch{v.test_images, v.test_labels, {}};
  const Value::Table budget{{"epsilon", "8/255"}, {"step", "0.8/255"}, {"steps", 10}};
  auto with = [&](Value::Table extra) {
    Value::Table t = budget;
    for (auto& e : extra) t.push_back(std::move(e));
    return t;
  };
  const auto ifgsm = run_on_victim<medadv::plugins::gradient::Pgd>("pgd", with({{"random_start", false}}), v, batch);
  const auto plain = run_on_victim<medical::Sma>("sma", with({{"lambda", 0.0}}), v, batch);
  EXPECT_TRUE(torch::equal(plain.adversarial, ifgsm.adversarial)) << "lambda = 0 is I-FGSM exactly";
  EXPECT_TRUE(torch::equal(plain.success, ifgsm.success));
  // The default step is epsilon / 10: the same run.
  const auto by_default = run_on_victim<medical::Sma>("sma", {{"epsilon", "8/255"}, {"lambda", 0.0}}, v, batch);
  EXPECT_TRUE(torch::equal(by_default.adversarial, ifgsm.adversarial));

  const auto stabilized = run_on_victim<medical::Sma>("sma", budget, v, batch);  // lambda 1 (default)
  for (const auto* r : {&plain, &stabilized}) {
    EXPECT_LE(medadv::metrics::linf_norm(v.test_images, r->adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
    EXPECT_GE(r->adversarial.min().item<double>(), 0.0);
    EXPECT_LE(r->adversarial.max().item<double>(), 1.0);
    EXPECT_EQ(r->iterations.min().item<std::int64_t>(), 10);
  }
  const double rough_ifgsm = roughness(ifgsm.adversarial - v.test_images);
  const double rough_sma = roughness(stabilized.adversarial - v.test_images);
  auto rate = [&](const medadv::AttackResult& r) {
    torch::NoGradGuard no_grad;
    return medadv::metrics::attack_success_rate_untargeted(v.model->logits(v.test_images).argmax(1),
                                                           v.model->logits(r.adversarial).argmax(1), v.test_labels);
  };
  std::cout << "[strength] fundus small-cnn, 8/255 x10: mean |r - G*r| I-FGSM " << rough_ifgsm << ", SMA (lambda 1) "
            << rough_sma << "; success rate I-FGSM " << rate(ifgsm) << ", SMA " << rate(stabilized) << "\n";
  EXPECT_LT(rough_sma, rough_ifgsm) << "the stabilisation smooths the perturbation";
}

}  // namespace
