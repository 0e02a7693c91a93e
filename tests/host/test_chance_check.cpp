// The host's warning for a classifier at chance: the binomial tail against hand
// computations, and the warning's threshold on a val split with a known majority class.
#include <gtest/gtest.h>

#include <cmath>

#include "train/chance_check.h"

using medadv::host::binomial_upper_tail;
using medadv::host::chance_level_warning;

TEST(ChanceCheck, BinomialTailMatchesHandComputation) {
  // n = 4, p = 1/2: P(X >= 3) = (C(4,3) + C(4,4)) / 16.
  EXPECT_NEAR(binomial_upper_tail(3, 4, 0.5), 5.0 / 16.0, 1e-12);
  // n = 10, p = 0.3: sum over k = 7..10 of C(10,k) 0.3^k 0.7^(10-k).
  const double expected = 120 * std::pow(0.3, 7) * std::pow(0.7, 3) + 45 * std::pow(0.3, 8) * std::pow(0.7, 2) +
                          10 * std::pow(0.3, 9) * 0.7 + std::pow(0.3, 10);
  EXPECT_NEAR(binomial_upper_tail(7, 10, 0.3), expected, 1e-12);
  EXPECT_NEAR(expected, 0.0105920, 1e-6);
  EXPECT_DOUBLE_EQ(binomial_upper_tail(0, 10, 0.3), 1.0);
  EXPECT_DOUBLE_EQ(binomial_upper_tail(11, 10, 0.3), 0.0);
  // Large n: the log-space sum stays finite; P(X >= 1) = 1 - 2^-2000.
  EXPECT_NEAR(binomial_upper_tail(1, 2000, 0.5), 1.0, 1e-12);
}

TEST(ChanceCheck, WarnsOnlyWhenAccuracyIsNotClearlyAboveTheMajorityClass) {
  // 100 val labels, 60 of class 0: always answering 0 scores 0.60.
  auto labels = torch::cat({torch::zeros({60}, torch::kLong), torch::ones({40}, torch::kLong)});
  // P(X >= 60 | 100, 0.6) ~ 0.54, P(X >= 66) ~ 0.13: both no better than guessing.
  const std::string at_majority = chance_level_warning("model 'resnet18'", 0.60, labels);
  EXPECT_NE(at_majority.find("model 'resnet18'"), std::string::npos) << at_majority;
  EXPECT_NE(at_majority.find("0.600 (60/100)"), std::string::npos) << at_majority;
  EXPECT_NE(chance_level_warning("m", 0.66, labels), "");
  EXPECT_NE(chance_level_warning("m", 0.30, labels), "");
  // P(X >= 70 | 100, 0.6) ~ 0.025 and P(X >= 80) ~ 1e-5: clearly better.
  EXPECT_EQ(chance_level_warning("m", 0.70, labels), "");
  EXPECT_EQ(chance_level_warning("m", 0.80, labels), "");
  // Nothing to judge.
  EXPECT_EQ(chance_level_warning("m", NAN, labels), "");
  EXPECT_EQ(chance_level_warning("m", 0.5, torch::zeros({0}, torch::kLong)), "");
}
