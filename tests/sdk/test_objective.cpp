// The Objective's base losses against hand computations on fixed logits.
#include <gtest/gtest.h>

#include <cmath>

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
