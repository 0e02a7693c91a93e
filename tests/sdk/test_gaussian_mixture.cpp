// Gaussian mixtures (medadv/gaussian_mixture.h): densities and distances against a
// brute-force sum over components with explicit inverses and determinants, EM against
// a known mixture and the closed-form single Gaussian, determinism for a seed; the
// Dirichlet-process fit against its closed form for one component and against
// scikit-learn's BayesianGaussianMixture (tests/oracles/bayesian_mixture.py) from the
// same start.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_support.h"

#include "medadv/error.h"
#include "medadv/gaussian_mixture.h"
#include "medadv/torch_compat.h"

namespace {

using medadv::GaussianMixture;
using medadv::GaussianMixtureOptions;

const double kPi = 3.14159265358979323846;

struct Known {
  torch::Tensor weights, means, covariances;
};

Known three_components() {
  Known k;
  k.weights = torch::tensor({0.2, 0.5, 0.3}, torch::kDouble);
  k.means = torch::tensor({0.0, 0.0, 3.0, 1.0, -2.0, 2.5}, torch::kDouble).view({3, 2});
  k.covariances = torch::tensor({1.0, 0.3, 0.3, 0.5,  //
                                 0.4, -0.1, -0.1, 0.2,  //
                                 2.0, 0.0, 0.0, 1.5},
                                torch::kDouble)
                      .view({3, 2, 2});
  return k;
}

// log sum_k w_k N(x | mu_k, S_k) with an explicit 2x2 inverse and determinant.
double brute_log_likelihood(const Known& k, double x0, double x1, torch::Tensor* squared = nullptr) {
  double total = 0.0;
  for (std::int64_t c = 0; c < k.means.size(0); ++c) {
    const double a = k.covariances[c][0][0].item<double>(), b = k.covariances[c][0][1].item<double>(),
                 d = k.covariances[c][1][1].item<double>();
    const double det = a * d - b * b;
    const double u = x0 - k.means[c][0].item<double>(), v = x1 - k.means[c][1].item<double>();
    const double q = (d * u * u - 2 * b * u * v + a * v * v) / det;
    if (squared) (*squared)[c] = q;
    total += k.weights[c].item<double>() * std::exp(-0.5 * q) / (2 * kPi * std::sqrt(det));
  }
  return std::log(total);
}

TEST(GaussianMixture, LogLikelihoodAndDistancesEqualTheBruteForceSum) {
  const Known k = three_components();
  const auto g = GaussianMixture::from_parameters(k.weights, k.means, k.covariances);
  auto gen = medadv::compat::cpu_generator(1);
  const auto x = torch::randn({7, 2}, gen, torch::kDouble) * 2.0;
  const auto ll = g.log_likelihood(x);
  const auto d2 = g.squared_mahalanobis(x);
  const auto argmax = g.most_responsible(x);
  const auto per_component = g.component_log_density(x);
  for (std::int64_t i = 0; i < 7; ++i) {
    auto squared = torch::zeros({3}, torch::kDouble);
    EXPECT_NEAR(ll[i].item<double>(), brute_log_likelihood(k, x[i][0].item<double>(), x[i][1].item<double>(), &squared),
                1e-10);
    for (std::int64_t c = 0; c < 3; ++c) {
      EXPECT_NEAR(d2[i][c].item<double>(), squared[c].item<double>(), 1e-10);
      // And the general form with torch's inverse and log-determinant.
      const auto diff = (x[i] - k.means[c]).unsqueeze(1);
      const auto direct = torch::matmul(diff.t(), torch::matmul(torch::inverse(k.covariances[c]), diff)).item<double>();
      EXPECT_NEAR(d2[i][c].item<double>(), direct, 1e-10);
      const double log_density = std::log(k.weights[c].item<double>()) - std::log(2 * kPi) -
                                 0.5 * torch::logdet(k.covariances[c]).item<double>() - 0.5 * direct;
      EXPECT_NEAR(per_component[i][c].item<double>(), log_density, 1e-10);
    }
    EXPECT_EQ(argmax[i].item<std::int64_t>(), per_component[i].argmax().item<std::int64_t>());
  }
  // Precision Cholesky factors: U U^T is the inverse covariance.
  const auto u = g.precision_cholesky();
  EXPECT_TRUE(torch::allclose(torch::matmul(u, u.transpose(1, 2)), torch::inverse(k.covariances), 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(u, u.triu(), 0, 0));
}

TEST(GaussianMixture, LogLikelihoodIsDifferentiableInTheFeatures) {
  const Known k = three_components();
  // One component: d/dx log N(x | mu, S) = -S^-1 (x - mu).
  const auto g = GaussianMixture::from_parameters(k.weights.slice(0, 1, 2), k.means.slice(0, 1, 2),
                                                  k.covariances.slice(0, 1, 2));
  const auto x = torch::tensor({{0.5, -1.0}, {3.5, 1.2}}, torch::kFloat).requires_grad_(true);
  const auto ll = g.log_likelihood(x);
  EXPECT_EQ(ll.scalar_type(), torch::kFloat);
  ll.sum().backward();
  const auto expected =
      -torch::matmul(x.detach().to(torch::kDouble) - k.means[1], torch::inverse(k.covariances[1]));
  EXPECT_TRUE(torch::allclose(x.grad().to(torch::kDouble), expected, 1e-4, 1e-5));
}

TEST(GaussianMixture, EmRecoversAKnownTwoComponentMixture) {
  auto gen = medadv::compat::cpu_generator(7);
  const std::int64_t n = 3000;
  const auto mean_a = torch::tensor({-2.0, 0.0}, torch::kDouble), mean_b = torch::tensor({3.0, 1.0}, torch::kDouble);
  const auto chol_a = torch::tensor({{1.0, 0.0}, {0.5, 0.6}}, torch::kDouble);   // cov [[1, .5], [.5, .61]]
  const auto chol_b = torch::tensor({{0.7, 0.0}, {-0.3, 1.2}}, torch::kDouble);  // cov [[.49, -.21], [-.21, 1.53]]
  const std::int64_t n_a = 900;                                                   // weight 0.3
  const auto a = torch::matmul(torch::randn({n_a, 2}, gen, torch::kDouble), chol_a.t()) + mean_a;
  const auto b = torch::matmul(torch::randn({n - n_a, 2}, gen, torch::kDouble), chol_b.t()) + mean_b;
  const auto x = torch::cat({a, b}).to(torch::kFloat);
  GaussianMixtureOptions o;
  o.components = 2;
  o.seed = 5;
  const auto g = GaussianMixture::fit(x, o);
  EXPECT_TRUE(g.converged());
  EXPECT_GE(g.iterations(), 1);
  // Components in order of their first mean coordinate.
  const std::int64_t first = g.means()[0][0].item<double>() < g.means()[1][0].item<double>() ? 0 : 1;
  const std::int64_t second = 1 - first;
  EXPECT_NEAR(g.log_weights()[first].exp().item<double>(), 0.3, 0.02);
  EXPECT_NEAR(g.log_weights()[second].exp().item<double>(), 0.7, 0.02);
  EXPECT_TRUE(torch::allclose(g.means()[first], mean_a, 0, 0.1)) << g.means();
  EXPECT_TRUE(torch::allclose(g.means()[second], mean_b, 0, 0.1)) << g.means();
  EXPECT_TRUE(torch::allclose(g.covariances()[first], torch::matmul(chol_a, chol_a.t()), 0, 0.12)) << g.covariances();
  EXPECT_TRUE(torch::allclose(g.covariances()[second], torch::matmul(chol_b, chol_b.t()), 0, 0.15))
      << g.covariances();
  EXPECT_NEAR(g.mean_log_likelihood(), g.log_likelihood(x).mean().item<double>(), 1e-6);

  // Same data and seed: the same mixture, bit for bit.
  const auto again = GaussianMixture::fit(x, o);
  EXPECT_TRUE(torch::equal(g.means(), again.means()));
  EXPECT_TRUE(torch::equal(g.covariances(), again.covariances()));
  EXPECT_EQ(g.iterations(), again.iterations());
}

TEST(GaussianMixture, OneComponentIsTheMaximumLikelihoodGaussianPlusRidge) {
  auto gen = medadv::compat::cpu_generator(2);
  const auto x = torch::randn({50, 3}, gen, torch::kDouble) * torch::tensor({1.0, 2.0, 0.5}, torch::kDouble) + 1.0;
  GaussianMixtureOptions o;
  o.ridge = 1e-3;
  const auto g = GaussianMixture::fit(x, o);
  const auto mean = x.mean(0);
  const auto centred = x - mean;
  const auto cov = torch::matmul(centred.t(), centred) / 50.0 + 1e-3 * torch::eye(3, torch::kDouble);
  EXPECT_TRUE(torch::allclose(g.means()[0], mean, 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(g.covariances()[0], cov, 1e-10, 1e-10));
  EXPECT_NEAR(g.log_weights()[0].item<double>(), 0.0, 1e-12);
  EXPECT_TRUE(g.converged());
}

// One component: the posterior after its only update, in closed form. The mean prior is
// the data's mean, so the mean is the sample mean; the covariance is (prior + N S) / (D +
// N), the prior the unbiased sample covariance and S the maximum-likelihood one plus the
// ridge; the single weight is 1.
TEST(GaussianMixture, DirichletProcessWithOneComponentIsTheClosedFormPosterior) {
  auto gen = medadv::compat::cpu_generator(3);
  const std::int64_t n = 40, d = 3;
  const auto x = torch::randn({n, d}, gen, torch::kDouble) * torch::tensor({1.0, 0.5, 2.0}, torch::kDouble) + 2.0;
  GaussianMixtureOptions o;
  o.prior = medadv::MixturePrior::DirichletProcess;
  o.ridge = 1e-4;
  const auto g = GaussianMixture::fit(x, o);
  const auto mean = x.mean(0);
  const auto centred = x - mean;
  const auto scatter = torch::matmul(centred.t(), centred);
  const auto eye = torch::eye(d, torch::kDouble);
  const auto expected = (scatter / (n - 1.0) + scatter + n * 1e-4 * eye) / static_cast<double>(d + n);
  EXPECT_TRUE(torch::allclose(g.means()[0], mean, 1e-12, 1e-12)) << g.means();
  EXPECT_TRUE(torch::allclose(g.covariances()[0], expected, 1e-12, 1e-12)) << g.covariances() << expected;
  EXPECT_NEAR(g.log_weights()[0].item<double>(), 0.0, 1e-12);
  EXPECT_TRUE(g.converged());
  EXPECT_EQ(g.iterations(), 2);  // the bound stops changing after the first update
}

// scikit-learn's BayesianGaussianMixture from the same start (the oracle script is fed the
// initial labels): the same weights, means, covariances, iterations and lower bound, after
// three iterations (before convergence: every update is compared) and at convergence.
class BayesianMixtureOracle : public ScratchTest {};

TEST_F(BayesianMixtureOracle, MatchesScikitLearnFromTheSameStart) {
  auto gen = medadv::compat::cpu_generator(11);
  const std::int64_t per = 40, d = 3, k = 4;
  const auto centres = torch::tensor({0.0, 0.0, 0.0, 4.0, 1.0, -1.0, -3.0, 3.0, 2.0}, torch::kDouble).view({3, d});
  std::vector<torch::Tensor> parts;
  for (std::int64_t c = 0; c < 3; ++c)
    parts.push_back(torch::randn({per, d}, gen, torch::kDouble) * (0.5 + 0.3 * c) + centres[c]);
  const auto x = torch::cat(parts);
  // A rough start: the true clusters, every fifth sample moved to the spare component.
  auto labels = torch::arange(3 * per, torch::kLong).div(per, "floor");
  labels.index_put_({torch::arange(0, 3 * per, 5)}, k - 1);
  {
    std::ofstream data(dir_ / "data.csv"), start(dir_ / "labels.txt");
    data.precision(17);
    for (std::int64_t i = 0; i < x.size(0); ++i) {
      for (std::int64_t j = 0; j < d; ++j) data << (j ? "," : "") << x[i][j].item<double>();
      data << "\n";
      start << labels[i].item<std::int64_t>() << "\n";
    }
  }
  for (const std::int64_t max_iterations : {3, 1000}) {
    const auto out = dir_ / ("sklearn_" + std::to_string(max_iterations) + ".txt");
    const std::string command = "python3 " MEDADV_TEST_ORACLES "/bayesian_mixture.py " + (dir_ / "data.csv").string() +
                                " " + (dir_ / "labels.txt").string() + " " + std::to_string(k) + " " +
                                std::to_string(max_iterations) + " " + out.string();
    const int status = std::system(command.c_str());
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
      GTEST_SKIP() << "scikit-learn is not installed (python3-sklearn, in scripts/common.sh's packages)";
    ASSERT_EQ(status, 0) << command;
    std::vector<double> sk;
    std::ifstream in(out);
    for (double v; in >> v;) sk.push_back(v);
    ASSERT_EQ(sk.size(), static_cast<std::size_t>(2 + k + k * d + k * d * d));

    GaussianMixtureOptions o;
    o.prior = medadv::MixturePrior::DirichletProcess;
    o.components = k;
    o.max_iterations = max_iterations;
    o.initial_labels = labels;
    const auto g = GaussianMixture::fit(x, o);
    auto slice = [&](std::size_t from, std::size_t count) {
      return torch::tensor(std::vector<double>(sk.begin() + from, sk.begin() + from + count), torch::kDouble);
    };
    EXPECT_EQ(g.iterations(), static_cast<std::int64_t>(sk[0])) << max_iterations;
    EXPECT_NEAR(g.lower_bound(), sk[1], 1e-8 * std::abs(sk[1])) << max_iterations;
    EXPECT_TRUE(torch::allclose(g.log_weights().exp(), slice(2, k), 1e-8, 1e-12)) << g.log_weights().exp();
    EXPECT_TRUE(torch::allclose(g.means().flatten(), slice(2 + k, k * d), 1e-8, 1e-10)) << g.means();
    EXPECT_TRUE(torch::allclose(g.covariances().flatten(), slice(2 + k + k * d, k * d * d), 1e-8, 1e-10))
        << g.covariances();
  }
}

TEST(GaussianMixture, RefusesTooFewSamplesAndBadParameters) {
  GaussianMixtureOptions o;
  o.components = 5;
  EXPECT_THROW(GaussianMixture::fit(torch::zeros({4, 2}), o), medadv::InvalidInput);
  EXPECT_THROW(GaussianMixture::fit(torch::zeros({4}), {}), medadv::InvalidInput);
  GaussianMixtureOptions bad_labels;
  bad_labels.components = 2;
  bad_labels.initial_labels = torch::tensor({0, 1, 2});
  EXPECT_THROW(GaussianMixture::fit(torch::randn({3, 2}), bad_labels), medadv::InvalidInput);
  bad_labels.initial_labels = torch::tensor({0, 1});
  EXPECT_THROW(GaussianMixture::fit(torch::randn({3, 2}), bad_labels), medadv::InvalidInput);
  GaussianMixtureOptions one_sample;
  one_sample.prior = medadv::MixturePrior::DirichletProcess;
  EXPECT_THROW(GaussianMixture::fit(torch::randn({1, 2}), one_sample), medadv::InvalidInput);
  EXPECT_THROW(GaussianMixture::from_parameters(torch::ones({1}), torch::zeros({1, 2}),
                                                torch::tensor({{{1.0, 2.0}, {2.0, 1.0}}})),
               medadv::InvalidInput);
  const auto g = GaussianMixture::from_parameters(torch::ones({1}), torch::zeros({1, 2}), torch::eye(2).unsqueeze(0));
  EXPECT_THROW(g.log_likelihood(torch::zeros({3, 4})), medadv::InvalidInput);
  EXPECT_THROW(GaussianMixture().log_likelihood(torch::zeros({3, 2})), medadv::Error);
}

}  // namespace
