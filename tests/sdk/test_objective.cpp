// The Objective's base losses against hand computations on fixed logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "medadv/attack_term.h"
#include "medadv/error.h"
#include "medadv/objective.h"

namespace {
torch::Tensor logits() {
  // Two samples, four classes.
  return torch::tensor({{2.0, 1.0, 0.5, -1.0}, {0.0, 3.0, 1.0, 2.0}});
}
torch::Tensor labels() { return torch::tensor({0, 2}); }
}  // namespace

TEST(Objective, CrossEntropyMatchesHandComputation) {
  const auto ce = medadv::cross_entropy_per_sample(logits(), labels());
  const double lse0 = std::log(std::exp(2.0) + std::exp(1.0) + std::exp(0.5) + std::exp(-1.0));
  const double lse1 = std::log(std::exp(0.0) + std::exp(3.0) + std::exp(1.0) + std::exp(2.0));
  EXPECT_NEAR(ce[0].item<double>(), lse0 - 2.0, 1e-5);
  EXPECT_NEAR(ce[1].item<double>(), lse1 - 1.0, 1e-5);
}

TEST(Objective, MarginIsOwnLogitMinusBestOther) {
  const auto m = medadv::margin_per_sample(logits(), labels());
  EXPECT_NEAR(m[0].item<double>(), 2.0 - 1.0, 1e-6);
  EXPECT_NEAR(m[1].item<double>(), 1.0 - 3.0, 1e-6);
}

TEST(Objective, DlrMatchesCroceHein) {
  const auto d = medadv::dlr_per_sample(logits(), labels());
  // sample 0: sorted 2, 1, 0.5, -1 -> -(2 - 1) / (2 - 0.5)
  EXPECT_NEAR(d[0].item<double>(), -(2.0 - 1.0) / (2.0 - 0.5), 1e-6);
  // sample 1: sorted 3, 2, 1, 0 -> -(1 - 3) / (3 - 1)
  EXPECT_NEAR(d[1].item<double>(), -(1.0 - 3.0) / (3.0 - 1.0), 1e-6);
  const auto t = medadv::dlr_targeted_per_sample(logits(), labels(), torch::tensor({3, 0}));
  // -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)
  EXPECT_NEAR(t[0].item<double>(), -(2.0 - -1.0) / (2.0 - (0.5 + -1.0) / 2), 1e-6);
  EXPECT_NEAR(t[1].item<double>(), -(1.0 - 0.0) / (3.0 - (1.0 + 0.0) / 2), 1e-6);
}

TEST(Objective, DlrRefusesBinaryTasks) {
  EXPECT_THROW(medadv::dlr_per_sample(torch::zeros({1, 2}), torch::tensor({0})), medadv::InvalidInput);
}

TEST(Objective, TargetedAndUntargetedSigns) {
  medadv::ModelOutput out;
  out.logits = logits();
  medadv::Objective untargeted(medadv::BaseLoss::CrossEntropy, false);
  medadv::Objective targeted(medadv::BaseLoss::CrossEntropy, true);
  const auto targets = torch::tensor({1, 1});
  const auto u = untargeted.evaluate(out, {}, labels(), {});
  const auto t = targeted.evaluate(out, {}, labels(), targets);
  EXPECT_TRUE(torch::allclose(u, medadv::cross_entropy_per_sample(logits(), labels())));
  EXPECT_TRUE(torch::allclose(t, -medadv::cross_entropy_per_sample(logits(), targets)));
  // CW with kappa: untargeted -max(margin, -kappa)
  medadv::Objective cw(medadv::BaseLoss::CWMargin, false, 0.5);
  const auto c = cw.evaluate(out, {}, labels(), {});
  EXPECT_NEAR(c[0].item<double>(), -1.0, 1e-6);  // margin 1 > -0.5
  EXPECT_NEAR(c[1].item<double>(), 0.5, 1e-6);   // margin -2 clamped to -0.5
}

TEST(Objective, SuccessDefinitions) {
  medadv::Objective untargeted(medadv::BaseLoss::CrossEntropy, false);
  medadv::Objective targeted(medadv::BaseLoss::CrossEntropy, true);
  // predictions: 0 and 1
  EXPECT_TRUE(torch::equal(untargeted.success(logits(), labels(), {}), torch::tensor({false, true})));
  EXPECT_TRUE(torch::equal(targeted.success(logits(), labels(), torch::tensor({0, 3})), torch::tensor({true, false})));
}

// ---- Segmentation losses and success --------------------------------------------------

namespace {
double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// Two samples of one foreground logit on a 2x2 image; the second mask is empty.
torch::Tensor segmentation_logits() {
  return torch::tensor({0.0, 1.0, -1.0, 2.0, 0.5, -0.5, 1.5, -2.0}).view({2, 1, 2, 2});
}
torch::Tensor segmentation_masks() {
  return torch::tensor({1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0}).view({2, 1, 2, 2});
}

struct HandSums {
  double bce = 0, intersection = 0, predicted = 0, truth = 0;
};
HandSums hand_sums(const std::vector<double>& z, const std::vector<double>& m) {
  HandSums h;
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double p = sigmoid(z[i]);
    h.bce += -(m[i] * std::log(p) + (1 - m[i]) * std::log(1 - p)) / static_cast<double>(z.size());
    h.intersection += p * m[i];
    h.predicted += p;
    h.truth += m[i];
  }
  return h;
}
}  // namespace

TEST(Objective, SegmentationLossesMatchHandComputation) {
  const auto z = segmentation_logits(), m = segmentation_masks();
  const auto bce = medadv::bce_per_sample(z, m);
  const auto iou = medadv::soft_iou_loss_per_sample(z, m);
  const auto dice = medadv::soft_dice_loss_per_sample(z, m);
  ASSERT_EQ(bce.sizes(), (std::vector<std::int64_t>{2}));
  const HandSums s0 = hand_sums({0.0, 1.0, -1.0, 2.0}, {1, 0, 0, 1});
  const HandSums s1 = hand_sums({0.5, -0.5, 1.5, -2.0}, {0, 0, 0, 0});
  EXPECT_NEAR(bce[0].item<double>(), s0.bce, 1e-6);
  EXPECT_NEAR(bce[1].item<double>(), s1.bce, 1e-6);
  EXPECT_NEAR(iou[0].item<double>(), 1 - s0.intersection / (s0.predicted + s0.truth - s0.intersection + 1e-6), 1e-6);
  EXPECT_NEAR(dice[0].item<double>(), 1 - 2 * s0.intersection / (s0.predicted + s0.truth + 1e-6), 1e-6);
  // An empty mask has no overlap: both overlap losses are 1.
  EXPECT_NEAR(iou[1].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(dice[1].item<double>(), 1.0, 1e-6);
  // Differentiable with respect to the logits.
  const auto zr = z.clone().requires_grad_(true);
  medadv::soft_dice_loss_per_sample(zr, m).sum().backward();
  EXPECT_GT(zr.grad().abs().sum().item<double>(), 0.0);
}

TEST(Objective, MultiClassSegmentationLossesScoreTheForegroundChannels) {
  // One sample, three classes, two pixels of classes 0 and 2.
  const auto z = torch::tensor({1.0, 0.0, 0.5, 2.0, -1.0, 1.0}).view({1, 3, 1, 2});
  const auto m = torch::tensor({0.0, 2.0}).view({1, 1, 1, 2});
  // Softmax per pixel by hand: channel values (1, 0.5, -1) and (0, 2, 1).
  const double e0 = std::exp(1.0) + std::exp(0.5) + std::exp(-1.0), e1 = std::exp(0.0) + std::exp(2.0) + std::exp(1.0);
  const double p0[] = {std::exp(1.0) / e0, std::exp(0.5) / e0, std::exp(-1.0) / e0};
  const double p1[] = {std::exp(0.0) / e1, std::exp(2.0) / e1, std::exp(1.0) / e1};
  const double intersection = p1[2];                     // only pixel 1 is foreground (class 2)
  const double predicted = p0[1] + p0[2] + p1[1] + p1[2];  // channels 1 and 2
  EXPECT_NEAR(medadv::soft_dice_loss_per_sample(z, m)[0].item<double>(),
              1 - 2 * intersection / (predicted + 1.0 + 1e-6), 1e-6);
  EXPECT_NEAR(medadv::soft_iou_loss_per_sample(z, m)[0].item<double>(),
              1 - intersection / (predicted + 1.0 - intersection + 1e-6), 1e-6);
  EXPECT_NEAR(medadv::bce_per_sample(z, m)[0].item<double>(), -(std::log(p0[0]) + std::log(p1[2])) / 2, 1e-6);
}

TEST(Objective, SegmentationObjectiveSignsAndTaskChecks) {
  medadv::ModelOutput out;
  out.logits = segmentation_logits();
  const auto masks = segmentation_masks();
  const auto target = torch::ones_like(masks);
  medadv::Objective untargeted(medadv::BaseLoss::SoftDice, false);
  medadv::Objective targeted(medadv::BaseLoss::SoftIoU, true);
  EXPECT_TRUE(torch::allclose(untargeted.evaluate(out, {}, masks, {}),
                              medadv::soft_dice_loss_per_sample(out.logits, masks)));
  EXPECT_TRUE(torch::allclose(targeted.evaluate(out, {}, masks, target),
                              -medadv::soft_iou_loss_per_sample(out.logits, target)));
  // Losses of the other task are refused with a reason.
  EXPECT_THROW(medadv::Objective(medadv::BaseLoss::CrossEntropy, false).evaluate(out, {}, masks, {}),
               medadv::InvalidInput);
  medadv::ModelOutput classifier;
  classifier.logits = logits();
  EXPECT_THROW(untargeted.evaluate(classifier, {}, labels(), {}), medadv::InvalidInput);
  // No base loss: only the terms count (none here).
  const auto none = medadv::Objective(medadv::BaseLoss::None, false).evaluate(classifier, {}, labels(), {});
  EXPECT_TRUE(torch::equal(none, torch::zeros({2})));
  EXPECT_STREQ(medadv::base_loss_name(medadv::BaseLoss::SoftDice), "dice");
  EXPECT_TRUE(medadv::is_segmentation_loss(medadv::BaseLoss::BCE));
  EXPECT_FALSE(medadv::is_segmentation_loss(medadv::BaseLoss::None));
}

TEST(Objective, SegmentationSuccessDefinitions) {
  // 1x1x4x4 masks built from foreground pixel counts (the first `n` pixels in raster order).
  auto mask = [](std::int64_t n) {
    auto m = torch::zeros({16});
    m.slice(0, 0, n).fill_(1);
    return m.view({1, 1, 4, 4});
  };
  auto success = [](const torch::Tensor& pred, const torch::Tensor& truth, const torch::Tensor& target) {
    return medadv::segmentation_success(pred, truth, target)[0].item<bool>();
  };
  const torch::Tensor none;
  // Untargeted: Dice(pred, truth) < 0.5. Truth 10 px; pred 4 px inside: Dice 8/14 -> kept.
  EXPECT_FALSE(success(mask(10), mask(10), none));
  EXPECT_FALSE(success(mask(4), mask(10), none));
  // pred 3 px inside: Dice 6/13 < 0.5 -> broken.
  EXPECT_TRUE(success(mask(3), mask(10), none));
  // Targeted at a shape: Dice(pred, target) >= 0.5; truth 2 px (Dice 4/18 with the
  // target), target 16 px, pred 6 px: 12/22.
  EXPECT_TRUE(success(mask(6), mask(2), mask(16)));
  EXPECT_FALSE(success(mask(5), mask(2), mask(16)));  // 10/21
  // ... unless the true mask already meets it: Dice(truth 10, target 16) = 20/26.
  EXPECT_FALSE(success(mask(16), mask(10), mask(16)));
  // Targeted at the empty mask: at most 10% of the true foreground is left.
  EXPECT_TRUE(success(mask(1), mask(10), mask(0)));
  EXPECT_FALSE(success(mask(2), mask(10), mask(0)));
  EXPECT_FALSE(success(mask(0), mask(0), mask(0))) << "an empty truth is already at the empty target";

  // The Objective judges segmentation logits by their thresholded masks.
  medadv::Objective untargeted(medadv::BaseLoss::SoftDice, false);
  const auto z = (mask(3) * 2 - 1).view({1, 1, 4, 4});  // logits > 0 on 3 px
  EXPECT_TRUE(untargeted.success(z, mask(10), {})[0].item<bool>());
  EXPECT_FALSE(untargeted.success(z, mask(3), {})[0].item<bool>());

  // The rate counts only the samples there was something to attack.
  const auto truth = torch::cat({mask(10), mask(10), mask(10)});
  const auto clean = torch::cat({mask(10), mask(10), mask(1)});      // the third is already broken
  const auto adversarial = torch::cat({mask(2), mask(10), mask(0)});  // broken, kept, broken
  EXPECT_DOUBLE_EQ(medadv::segmentation_attack_success_rate(clean, adversarial, truth, {}), 0.5);
  const auto empty = torch::zeros_like(truth);
  const auto truth_with_empty = torch::cat({mask(10), mask(0), mask(10)});
  EXPECT_DOUBLE_EQ(medadv::segmentation_attack_success_rate(clean, adversarial, truth_with_empty, empty), 0.5)
      << "the empty truth is not counted; of the others one vanished (0 px), one kept 2 of 10 px";
}

namespace {
// An add-on term worth 10 * (first logit) per sample, to see that with_base keeps terms.
class FirstLogitTerm : public medadv::AttackTerm {
 public:
  std::vector<std::string> taps() const override { return {}; }
  void fit(medadv::DifferentiableModel&, const medadv::ImageBatches&, std::int64_t, medadv::RunContext&) override {}
  torch::Tensor loss(const medadv::ModelOutput& out, const torch::Tensor&, const torch::Tensor&,
                     const torch::Tensor&) override {
    return out.logits.select(1, 0);
  }
};
}  // namespace

TEST(Objective, TargetedCwAndDlrThroughEvaluate) {
  medadv::ModelOutput out;
  out.logits = logits();
  const auto targets = torch::tensor({3, 0});
  // Targeted CW: -max(max_{j!=t} z_j - z_t, -kappa).
  // sample 0: t = 3, best other 2 -> -max(2 - -1, -0.5) = -3; sample 1: t = 0, best other 3 -> -3.
  const medadv::Objective cw(medadv::BaseLoss::CWMargin, true, 0.5);
  const auto c = cw.evaluate(out, {}, labels(), targets);
  EXPECT_NEAR(c[0].item<double>(), -3.0, 1e-6);
  EXPECT_NEAR(c[1].item<double>(), -3.0, 1e-6);
  // Reached by more than kappa: the value is capped at kappa. Logits 0, 5: t = 1 -> -max(0 - 5, -0.5) = 0.5.
  medadv::ModelOutput reached;
  reached.logits = torch::tensor({{0.0, 5.0}});
  EXPECT_NEAR(cw.evaluate(reached, {}, torch::tensor({0}), torch::tensor({1}))[0].item<double>(), 0.5, 1e-6);
  // DLR through the objective: untargeted and targeted equal the free functions (hand-checked above).
  const medadv::Objective dlr(medadv::BaseLoss::DLR, false), dlr_t(medadv::BaseLoss::DLR, true);
  EXPECT_NEAR(dlr.evaluate(out, {}, labels(), {})[0].item<double>(), -(2.0 - 1.0) / (2.0 - 0.5), 1e-6);
  EXPECT_NEAR(dlr_t.evaluate(out, {}, labels(), targets)[0].item<double>(), -(2.0 - -1.0) / (2.0 - (0.5 + -1.0) / 2),
              1e-6);
  // sample 1: y = 2, t = 0: -(1 - 0) / (3 - (1 + 0) / 2)
  EXPECT_NEAR(dlr_t.evaluate(out, {}, labels(), targets)[1].item<double>(), -1.0 / 2.5, 1e-6);
  // Targeted DLR needs four classes.
  medadv::ModelOutput three;
  three.logits = torch::tensor({{1.0, 0.0, -1.0}});
  EXPECT_THROW(dlr_t.evaluate(three, {}, torch::tensor({0}), torch::tensor({1})), medadv::InvalidInput);
}

TEST(Objective, WithBaseKeepsTargetingAndTerms) {
  medadv::ModelOutput out;
  out.logits = logits();
  const auto targets = torch::tensor({3, 0});
  medadv::Objective ce(medadv::BaseLoss::CrossEntropy, true, 0.0);
  ce.add_term(std::make_shared<FirstLogitTerm>(), 10.0, "first");
  const auto cw = ce.with_base(medadv::BaseLoss::CWMargin, 0.5);
  EXPECT_EQ(cw.base(), medadv::BaseLoss::CWMargin);
  EXPECT_TRUE(cw.targeted());
  EXPECT_DOUBLE_EQ(cw.kappa(), 0.5);
  // The original is unchanged.
  EXPECT_EQ(ce.base(), medadv::BaseLoss::CrossEntropy);
  EXPECT_DOUBLE_EQ(ce.kappa(), 0.0);
  // Targeted CW (-3, -3, see above) plus 10 * z_0 (2 and 0).
  const auto v = cw.evaluate(out, {}, labels(), targets);
  EXPECT_NEAR(v[0].item<double>(), -3.0 + 10 * 2.0, 1e-5);
  EXPECT_NEAR(v[1].item<double>(), -3.0 + 10 * 0.0, 1e-5);
  // Targeted cross-entropy with the same term.
  const auto u = ce.evaluate(out, {}, labels(), targets);
  EXPECT_TRUE(torch::allclose(u, -medadv::cross_entropy_per_sample(logits(), targets) + 10 * logits().select(1, 0)));
}
