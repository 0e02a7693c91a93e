// Logistic regression (medadv/logistic_regression.h) against a brute-force optimum of its
// objective, hand-computed z-scoring, and its gradient in the features.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "medadv/error.h"
#include "medadv/logistic_regression.h"
#include "medadv/torch_compat.h"

namespace {

using medadv::LogisticRegression;
using medadv::LogisticRegressionOptions;

// A tiny 1-d problem, separable except for one noisy point of each class.
torch::Tensor tiny_features() {
  return torch::tensor({-2.0, -1.5, -1.0, -0.5, 0.8, 0.5, 1.0, 1.4, 2.0, -0.7}, torch::kDouble).unsqueeze(1);
}
torch::Tensor tiny_labels() { return torch::tensor({0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, torch::kLong); }

// The objective of the header by hand, on z-scored features, for (w, b) on a grid.
double objective(double w, double b, const std::vector<double>& z, const std::vector<int>& y, double l2) {
  double total = 0.5 * l2 * w * w;
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double s = y[i] ? 1.0 : -1.0;
    total += std::log1p(std::exp(-s * (w * z[i] + b)));
  }
  return total;
}

TEST(LogisticRegression, MatchesTheBruteForceOptimumOfItsObjective) {
  const auto f = tiny_features();
  const auto y = tiny_labels();
  for (double l2 : {1.0, 0.1}) {
    LogisticRegressionOptions o;
    o.l2 = l2;
    const auto lr = LogisticRegression::fit(f, y, o);
    // z-scoring by hand: population standard deviation.
    const double mean = f.mean().item<double>();
    const double sd = std::sqrt((f - mean).pow(2).mean().item<double>());
    EXPECT_NEAR(lr.mean().item<double>(), mean, 1e-12);
    EXPECT_NEAR(lr.scale().item<double>(), sd, 1e-12);
    std::vector<double> z;
    std::vector<int> labels;
    for (std::int64_t i = 0; i < f.size(0); ++i) {
      z.push_back((f[i][0].item<double>() - mean) / sd);
      labels.push_back(static_cast<int>(y[i].item<std::int64_t>()));
    }
    // Coarse grid, then a fine grid around the coarse optimum.
    double best_w = 0, best_b = 0, best = std::numeric_limits<double>::infinity();
    auto search = [&](double cw, double cb, double half, int steps) {
      const double w0 = cw, b0 = cb;
      for (int i = -steps; i <= steps; ++i)
        for (int j = -steps; j <= steps; ++j) {
          const double w = w0 + half * i / steps, b = b0 + half * j / steps;
          const double v = objective(w, b, z, labels, l2);
          if (v < best) best = v, best_w = w, best_b = b;
        }
    };
    search(0, 0, 8.0, 200);
    search(best_w, best_b, 0.08, 200);
    EXPECT_NEAR(lr.weights().item<double>(), best_w, 1e-3) << "l2 = " << l2;
    EXPECT_NEAR(lr.bias().item<double>(), best_b, 1e-3) << "l2 = " << l2;
    EXPECT_LE(objective(lr.weights().item<double>(), lr.bias().item<double>(), z, labels, l2), best + 1e-9);
    // The logit on raw features is w (f - mean) / sd + b.
    const auto query = torch::tensor({-3.0, 0.0, 0.25}, torch::kDouble).unsqueeze(1);
    const auto logit = lr.predict_logit(query);
    for (std::int64_t i = 0; i < 3; ++i)
      EXPECT_NEAR(logit[i].item<double>(),
                  lr.weights().item<double>() * (query[i][0].item<double>() - mean) / sd + lr.bias().item<double>(),
                  1e-12);
  }
}

TEST(LogisticRegression, SeparatesTwoGaussiansIsDeterministicAndDifferentiable) {
  auto gen = medadv::compat::cpu_generator(3);
  const auto negatives = torch::randn({200, 3}, gen, torch::kDouble);
  const auto positives = torch::randn({200, 3}, gen, torch::kDouble) + torch::tensor({2.0, 0.0, -1.0}, torch::kDouble);
  const auto x = torch::cat({negatives, positives}).to(torch::kFloat);
  const auto y = torch::cat({torch::zeros({200}), torch::ones({200})}).to(torch::kBool);
  const auto a = LogisticRegression::fit(x, y);
  const auto b = LogisticRegression::fit(x, y);
  EXPECT_TRUE(torch::equal(a.weights(), b.weights()));
  EXPECT_TRUE(torch::equal(a.bias(), b.bias()));
  // The weights point along the mean difference (in z-space, scaled by the std).
  const auto w = a.weights() / a.scale();
  EXPECT_GT(w[0].item<double>(), 0.5);
  EXPECT_LT(w[2].item<double>(), -0.2);
  EXPECT_LT(std::abs(w[1].item<double>()), 0.3);
  const auto accuracy = a.predict_logit(x).gt(0).eq(y).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(accuracy, 0.8);
  // Output dtype follows the input; the gradient in the features is w / scale.
  const auto q = x.slice(0, 0, 5).clone().requires_grad_(true);
  const auto logit = a.predict_logit(q);
  EXPECT_EQ(logit.scalar_type(), torch::kFloat);
  logit.sum().backward();
  for (std::int64_t d = 0; d < 3; ++d) EXPECT_NEAR(q.grad()[0][d].item<double>(), w[d].item<double>(), 1e-5);
}

TEST(LogisticRegression, RefusesOneClassAndBadShapes) {
  EXPECT_THROW(LogisticRegression::fit(tiny_features(), torch::zeros({10}, torch::kLong)), medadv::InvalidInput);
  EXPECT_THROW(LogisticRegression::fit(tiny_features(), torch::zeros({9}, torch::kLong)), medadv::InvalidInput);
  EXPECT_THROW(LogisticRegression::fit(torch::zeros({10}), tiny_labels()), medadv::InvalidInput);
  const auto lr = LogisticRegression::fit(tiny_features(), tiny_labels());
  EXPECT_THROW(lr.predict_logit(torch::zeros({2, 2}, torch::kDouble)), medadv::InvalidInput);
  EXPECT_THROW(LogisticRegression().predict_logit(tiny_features()), medadv::Error);
}

}  // namespace
