// The feature-space detector family (plugins/detectors/feature): every score against an
// independent computation (closed-form KDE sums, Mahalanobis distances with explicit
// inverses, Gaussian log-densities, the LID of points on a linear subspace), the BU head
// recovered exactly and BU = 0 without dropout, Mahalanobis preprocessing moving towards
// the class mean, deterministic fits, and separation of PGD examples on the trained
// fundus classifier (AUC >= 0.9 for every detector, bu against PGD stopping at the boundary).
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <medadv/features.h>
#include <medadv/metrics.h>
#include <medadv/testing.h>
#include <medadv/torch_compat.h>

#include "attacks/gradient/pgd.h"
#include "detectors/feature/bu.h"
#include "detectors/feature/gmm.h"
#include "detectors/feature/kd.h"
#include "detectors/feature/kd_bu.h"
#include "detectors/feature/lid.h"
#include "detectors/feature/mahalanobis.h"
#include "detectors/feature/mgm.h"
#include "attack_test_kit.h"
#include "trained_victims.h"

// Oracle tests build their models on the CPU and pin their contexts to it
// (TestContext(torch::kCPU)), so that they check the same thing under MEDADV_TEST_DEVICE=cuda;
// the tests on trained victims run on the tests' device.
namespace {

namespace f = medadv::plugins::feature;
using medadv::DetectorFitData;
using medadv::ModuleModel;
using medadv::Value;
using medadv::attack_testing::LinearModel;
using medadv::attack_testing::params_of;
using medadv::testing::TestContext;

const double kPi = 3.14159265358979323846;

template <class T>
std::unique_ptr<T> make(const std::string& name, Value::Table overrides, medadv::RunContext& ctx) {
  return std::make_unique<T>(params_of<T>(name, std::move(overrides)), ctx);
}

// What the host hands fit(): adversarial images only to supervised detectors.
DetectorFitData fit_data(const medadv::Detector& d, const torch::Tensor& clean, const torch::Tensor& labels,
                         const torch::Tensor& adversarial) {
  return medadv::detector_fit_data(clean, labels, d.supervised() ? adversarial : torch::Tensor());
}

// A linear classifier whose "penultimate" tap is the flattened image: detector scores can
// be recomputed directly in image space. Images [N, 3, 2, 2]: D = 12.
std::shared_ptr<ModuleModel> linear_model(std::int64_t classes = 2) {
  return std::make_shared<ModuleModel>(std::make_shared<LinearModel>(12, classes, 4), classes,
                                       medadv::Task::Classification);
}

torch::Tensor predictions(medadv::DifferentiableModel& model, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return model.logits(x).argmax(1);
}

double at(const torch::Tensor& t, std::int64_t i) { return t[i].item<double>(); }

// ---- kd ------------------------------------------------------------------------------

// log (1/n) sum_i N(q | f_i, h^2 I) by hand.
double kde_by_hand(const torch::Tensor& q, const std::vector<torch::Tensor>& points, double h) {
  const double d = static_cast<double>(q.size(0));
  double sum = 0.0;
  for (const auto& p : points)
    sum += std::exp(-(q - p).pow(2).sum().item<double>() / (2 * h * h)) / std::pow(2 * kPi * h * h, d / 2);
  return std::log(sum / static_cast<double>(points.size()));
}

TEST(FeatureDetectors, KdeLogDensityEqualsTheClosedFormGaussianSum) {
  auto gen = medadv::compat::cpu_generator(11);
  const auto features = torch::randn({12, 3}, gen, torch::kDouble);
  const auto labels = torch::tensor({0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0}, torch::kLong);
  const double h = 0.7;
  medadv::ClassKernelDensity kde(features, labels, /*num_classes=*/3, h);  // class 2 has no points
  auto members = [&](std::int64_t c, std::int64_t skip) {
    std::vector<torch::Tensor> out;
    for (std::int64_t i = 0; i < 12; ++i)
      if ((c < 0 || labels[i].item<std::int64_t>() == c) && i != skip) out.push_back(features[i]);
    return out;
  };
  const auto queries = torch::randn({4, 3}, gen, torch::kDouble);
  const auto classes = torch::tensor({0, 1, 2, 0}, torch::kLong);
  const auto log_density = kde.log_density(queries, classes);
  for (std::int64_t b = 0; b < 4; ++b) {
    const std::int64_t c = classes[b].item<std::int64_t>();
    // An empty class falls back to every fit point.
    EXPECT_NEAR(at(log_density, b), kde_by_hand(queries[b], members(c == 2 ? -1 : c, -1), h), 1e-10);
  }
  // The gradient an adaptive attack follows, against its closed form:
  // d/dq log p(q | c) = sum_i w_i (f_i - q) / h^2, w_i the normalised kernel weights.
  const auto probe = queries.clone().requires_grad_(true);
  kde.log_density(probe, classes).sum().backward();
  for (std::int64_t b = 0; b < 4; ++b) {
    const std::int64_t c = classes[b].item<std::int64_t>();
    const auto points = torch::stack(members(c == 2 ? -1 : c, -1));
    const auto weights = torch::softmax(-(points - queries[b]).pow(2).sum(1) / (2 * h * h), 0);
    const auto expected = (weights.unsqueeze(1) * (points - queries[b])).sum(0) / (h * h);
    EXPECT_LT((probe.grad()[b] - expected).abs().max().item<double>(), 1e-10) << "row " << b;
  }
  const auto loo = kde.log_density_leave_one_out();
  for (std::int64_t i = 0; i < 12; ++i)
    EXPECT_NEAR(at(loo, i), kde_by_hand(features[i], members(labels[i].item<std::int64_t>(), i), h), 1e-10);

  // "auto": a grid value whose leave-one-out likelihood beats its grid neighbours.
  const double chosen = medadv::ClassKernelDensity::select_bandwidth(features, labels, 3);
  auto loo_likelihood = [&](double width) {
    return medadv::ClassKernelDensity(features, labels, 3, width).log_density_leave_one_out().sum().item<double>();
  };
  EXPECT_GE(loo_likelihood(chosen), loo_likelihood(chosen * std::sqrt(2.0)) - 1e-9);
  EXPECT_GE(loo_likelihood(chosen), loo_likelihood(chosen / std::sqrt(2.0)) - 1e-9);
}

TEST(FeatureDetectors, KdScoresMinusTheLogDensityOfThePredictedClassAndIsDifferentiable) {
  TestContext ctx(torch::kCPU);
  auto model = linear_model();
  const auto clean = medadv::testing::random_images(30, 3, 2, 1);
  const auto labels = predictions(*model, clean);
  auto kd = make<f::Kd>("kd", {{"bandwidth", "0.5"}}, ctx);
  EXPECT_FALSE(kd->supervised());
  EXPECT_TRUE(kd->differentiable());
  kd->fit(*model, fit_data(*kd, clean, labels, {}), ctx, nullptr);
  const auto x = medadv::testing::random_images(5, 3, 2, 2);
  const auto predicted = predictions(*model, x);
  const auto scores = kd->score(*model, x);
  for (std::int64_t b = 0; b < 5; ++b) {
    std::vector<torch::Tensor> own;
    for (std::int64_t i = 0; i < 30; ++i)
      if (labels[i].item<std::int64_t>() == predicted[b].item<std::int64_t>())
        own.push_back(clean[i].flatten().to(torch::kDouble));
    EXPECT_NEAR(at(scores, b), -kde_by_hand(x[b].flatten().to(torch::kDouble), own, 0.5), 1e-4);
  }
  const auto probe = x.clone().requires_grad_(true);
  kd->score(*model, probe).sum().backward();
  EXPECT_GT(probe.grad().abs().sum().item<double>(), 0.0);

  EXPECT_THROW(params_of<f::Kd>("kd", {{"bandwidth", "wide"}}), medadv::ValidationError);
  EXPECT_THROW(params_of<f::Kd>("kd", {{"bandwidth", "-1"}}), medadv::ValidationError);
}

// ---- mahalanobis, mgm, gmm --------------------------------------------------------------

struct ClassStats {
  std::vector<torch::Tensor> means;  // per class [D]
  torch::Tensor tied;                // [D, D], 1/N
  std::vector<torch::Tensor> own;    // per class [D, D], 1/n_c
};

ClassStats class_stats(const torch::Tensor& f, const torch::Tensor& labels, std::int64_t classes) {
  ClassStats s;
  const std::int64_t d = f.size(1);
  s.tied = torch::zeros({d, d}, torch::kDouble);
  for (std::int64_t c = 0; c < classes; ++c) {
    const auto members = f.index_select(0, torch::nonzero(labels.eq(c)).flatten());
    s.means.push_back(members.mean(0));
    const auto centred = members - s.means.back();
    s.own.push_back(torch::matmul(centred.t(), centred) / static_cast<double>(members.size(0)));
    s.tied += torch::matmul(centred.t(), centred);
  }
  s.tied /= static_cast<double>(f.size(0));
  return s;
}

torch::Tensor with_relative_ridge(const torch::Tensor& cov, double ridge) {
  const std::int64_t d = cov.size(0);
  return cov + ridge * cov.trace() / static_cast<double>(d) * torch::eye(d, torch::kDouble);
}

double squared_distance(const torch::Tensor& x, const torch::Tensor& mean, const torch::Tensor& cov) {
  const auto diff = (x - mean).unsqueeze(1);
  return torch::matmul(diff.t(), torch::matmul(torch::inverse(cov), diff)).item<double>();
}

TEST(FeatureDetectors, MahalanobisAndMgmEqualDirectComputationsWithExplicitInverses) {
  TestContext ctx(torch::kCPU);
  auto model = linear_model();
  const auto clean = medadv::testing::random_images(60, 3, 2, 5);
  const auto labels = predictions(*model, clean);
  const auto x = medadv::testing::random_images(6, 3, 2, 6);
  const auto predicted = predictions(*model, x);
  const auto fc = clean.flatten(1).to(torch::kDouble);
  const auto fx = x.flatten(1).to(torch::kDouble);
  const ClassStats stats = class_stats(fc, labels, 2);
  const double ridge = 0.05;

  auto maha = make<f::Mahalanobis>("mahalanobis", {{"taps", Value::Array{Value("penultimate")}}, {"combine", "mean"},
                                                   {"ridge", ridge}},
                                   ctx);
  EXPECT_FALSE(maha->supervised());  // the mean needs no adversarial data
  maha->fit(*model, fit_data(*maha, clean, labels, {}), ctx, nullptr);
  const auto tied = with_relative_ridge(stats.tied, ridge);
  const auto maha_scores = maha->score(*model, x);
  for (std::int64_t b = 0; b < 6; ++b) {
    const double closest = std::min(squared_distance(fx[b], stats.means[0], tied),
                                    squared_distance(fx[b], stats.means[1], tied));
    EXPECT_NEAR(at(maha_scores, b), 0.5 * closest / 12.0, 1e-4 * (1 + closest));
  }

  auto mgm = make<f::Mgm>("mgm", {{"ridge", ridge}}, ctx);  // taps = all: penultimate only here
  EXPECT_FALSE(mgm->supervised());
  mgm->fit(*model, fit_data(*mgm, clean, labels, {}), ctx, nullptr);
  const auto mgm_scores = mgm->score(*model, x);
  for (std::int64_t b = 0; b < 6; ++b) {
    const std::int64_t c = predicted[b].item<std::int64_t>();
    const double d2 = squared_distance(fx[b], stats.means[c], with_relative_ridge(stats.own[c], ridge));
    EXPECT_NEAR(at(mgm_scores, b), std::sqrt(d2 / 12.0), 1e-4 * (1 + std::sqrt(d2)));
  }
  // Differentiable in the input, with the closed-form gradients (the tap is the flattened
  // image): mahalanobis S^-1 (f - mu_c*) / 12 for the closest class c*; mgm
  // S_c^-1 (f - mu_c) / (12 * score) for the predicted class c.
  auto gradient_of = [&](medadv::Detector& d) {
    EXPECT_TRUE(d.differentiable());
    const auto probe = x.clone().requires_grad_(true);
    d.score(*model, probe).sum().backward();
    return probe.grad().flatten(1).to(torch::kDouble);
  };
  const auto maha_gradient = gradient_of(*maha);
  const auto mgm_gradient = gradient_of(*mgm);
  const auto tied_inverse = torch::inverse(tied);
  for (std::int64_t b = 0; b < 6; ++b) {
    const std::int64_t closest = squared_distance(fx[b], stats.means[0], tied) <=
                                         squared_distance(fx[b], stats.means[1], tied)
                                     ? 0
                                     : 1;
    const auto expected = torch::matmul(tied_inverse, fx[b] - stats.means[closest]) / 12.0;
    EXPECT_LT((maha_gradient[b] - expected).abs().max().item<double>(), 1e-3 * (1 + expected.abs().max().item<double>()))
        << "mahalanobis, row " << b;
    const std::int64_t c = predicted[b].item<std::int64_t>();
    const auto own_inverse = torch::inverse(with_relative_ridge(stats.own[c], ridge));
    const auto expected_mgm = torch::matmul(own_inverse, fx[b] - stats.means[c]) / (12.0 * at(mgm_scores, b));
    EXPECT_LT((mgm_gradient[b] - expected_mgm).abs().max().item<double>(),
              1e-3 * (1 + expected_mgm.abs().max().item<double>()))
        << "mgm, row " << b;
  }
}

TEST(FeatureDetectors, GmmScoresMinusTheBruteForceMixtureLogLikelihood) {
  TestContext ctx(torch::kCPU);
  auto model = linear_model();
  const auto clean = medadv::testing::random_images(80, 3, 2, 7);
  const auto labels = predictions(*model, clean);
  const auto x = medadv::testing::random_images(5, 3, 2, 8);
  const auto predicted = predictions(*model, x);
  const auto fc = clean.flatten(1).to(torch::kDouble);
  const auto fx = x.flatten(1).to(torch::kDouble);

  // K = 1: the class's maximum-likelihood Gaussian with ridge 1e-6.
  auto one = make<f::Gmm>("gmm", {}, ctx);
  EXPECT_FALSE(one->supervised());
  one->fit(*model, fit_data(*one, clean, labels, {}), ctx, nullptr);
  const ClassStats stats = class_stats(fc, labels, 2);
  const auto scores = one->score(*model, x);
  for (std::int64_t b = 0; b < 5; ++b) {
    const std::int64_t c = predicted[b].item<std::int64_t>();
    const auto cov = stats.own[c] + 1e-6 * torch::eye(12, torch::kDouble);
    const double log_density = -0.5 * 12 * std::log(2 * kPi) - 0.5 * torch::logdet(cov).item<double>() -
                               0.5 * squared_distance(fx[b], stats.means[c], cov);
    EXPECT_NEAR(at(scores, b), -log_density, 1e-3 * (1 + std::abs(log_density)));
  }

  // K = 2: minus log sum_k w_k N(x | mu_k, S_k) over the fitted components, by hand.
  auto two = make<f::Gmm>("gmm", {{"components", 2}, {"ridge", 1e-3}}, ctx);
  two->fit(*model, fit_data(*two, clean, labels, {}), ctx, nullptr);
  const auto scores2 = two->score(*model, x);
  for (std::int64_t b = 0; b < 5; ++b) {
    const auto& g = two->mixtures()[0][static_cast<std::size_t>(predicted[b].item<std::int64_t>())];
    ASSERT_EQ(g.components(), 2);
    double sum = 0.0;
    for (std::int64_t k = 0; k < 2; ++k) {
      const auto cov = g.covariances()[k];
      sum += g.log_weights()[k].exp().item<double>() *
             std::exp(-0.5 * squared_distance(fx[b], g.means()[k], cov)) /
             std::sqrt(std::pow(2 * kPi, 12) * torch::det(cov).item<double>());
    }
    EXPECT_NEAR(at(scores2, b), -std::log(sum), 1e-3 * (1 + std::abs(std::log(sum))));
  }
  // The gradient, against its closed form: sum_k r_k S_k^-1 (f - mu_k), r_k the components'
  // responsibilities for f.
  const auto probe = x.clone().requires_grad_(true);
  two->score(*model, probe).sum().backward();
  const auto gradient = probe.grad().flatten(1).to(torch::kDouble);
  for (std::int64_t b = 0; b < 5; ++b) {
    const auto& g = two->mixtures()[0][static_cast<std::size_t>(predicted[b].item<std::int64_t>())];
    std::vector<torch::Tensor> log_terms, pulls;
    for (std::int64_t k = 0; k < 2; ++k) {
      const auto cov = g.covariances()[k];
      log_terms.push_back(g.log_weights()[k] - 0.5 * squared_distance(fx[b], g.means()[k], cov) -
                          0.5 * torch::logdet(cov));
      pulls.push_back(torch::matmul(torch::inverse(cov), fx[b] - g.means()[k]));
    }
    const auto responsibilities = torch::softmax(torch::stack(log_terms), 0);
    const auto expected = (responsibilities.unsqueeze(1) * torch::stack(pulls)).sum(0);
    EXPECT_LT((gradient[b] - expected).abs().max().item<double>(), 1e-3 * (1 + expected.abs().max().item<double>()))
        << "row " << b;
  }
}

TEST(FeatureDetectors, MahalanobisPreprocessingLowersTheDistanceToTheClosestClassMean) {
  TestContext ctx(torch::kCPU);
  auto model = std::make_shared<ModuleModel>(std::make_shared<medadv::testing::TinyClassifier>(3, 2, 3), 2,
                                             medadv::Task::Classification);
  const auto clean = medadv::testing::random_images(64, 3, 16, 9);
  const auto labels = predictions(*model, clean);
  const Value::Array taps{Value("block1"), Value("penultimate")};
  auto plain = make<f::Mahalanobis>("mahalanobis", {{"taps", taps}, {"combine", "mean"}}, ctx);
  auto pre = make<f::Mahalanobis>("mahalanobis", {{"taps", taps}, {"combine", "mean"}, {"eps_pre", "2/255"}}, ctx);
  plain->fit(*model, fit_data(*plain, clean, labels, {}), ctx, nullptr);
  pre->fit(*model, fit_data(*pre, clean, labels, {}), ctx, nullptr);
  const auto x = medadv::testing::random_images(32, 3, 16, 10);
  const auto before = plain->tap_scores(*model, x);
  const auto after = pre->tap_scores(*model, x);
  // Every tap's distance to its closest class mean drops for (nearly) every image.
  const double lowered = after.lt(before).to(torch::kDouble).mean().item<double>();
  std::cout << "[oracle] mahalanobis eps_pre 2/255: distance lowered for " << lowered * 100 << "% of image-taps, mean "
            << before.mean().item<double>() << " -> " << after.mean().item<double>() << "\n";
  EXPECT_GE(lowered, 0.95);
  EXPECT_LT(after.mean().item<double>(), before.mean().item<double>());
  // Still differentiable in x.
  const auto probe = x.clone().requires_grad_(true);
  pre->score(*model, probe).sum().backward();
  EXPECT_GT(probe.grad().abs().sum().item<double>(), 0.0);
  EXPECT_THROW(params_of<f::Mahalanobis>("mahalanobis", {{"eps_pre", "2"}}), medadv::ValidationError);
}

// ---- lid -------------------------------------------------------------------------------

TEST(FeatureDetectors, LidOfPointsOnALinearSubspaceIsItsDimension) {
  auto gen = medadv::compat::cpu_generator(13);
  for (std::int64_t d : {2, 5}) {
    // An orthonormal d-frame in R^20; coordinates uniform in the unit cube.
    const auto frame = std::get<0>(torch::linalg_qr(torch::randn({20, d}, gen, torch::kDouble)));  // [20, d]
    const auto reference = torch::matmul(torch::rand({3000, d}, gen, torch::kDouble), frame.t());
    const auto queries = torch::matmul(0.25 + 0.5 * torch::rand({200, d}, gen, torch::kDouble), frame.t());
    const double estimate = medadv::lid_mle(queries, reference, 20).mean().item<double>();
    std::cout << "[oracle] LID on a " << d << "-d subspace of R^20: " << estimate << "\n";
    EXPECT_NEAR(estimate, static_cast<double>(d), 0.15 * static_cast<double>(d));
  }
  // Scoring the reference points themselves, each without itself: still about 1 on a line.
  const auto line = torch::rand({500, 1}, gen, torch::kDouble) * torch::tensor({{1.0, -2.0, 0.5}}, torch::kDouble);
  const auto lids = medadv::lid_mle(line, line, 20, torch::eye(500, torch::kBool));
  EXPECT_TRUE(torch::isfinite(lids).all().item<bool>());
  EXPECT_NEAR(lids.mean().item<double>(), 1.0, 0.25);
}

// ---- bu --------------------------------------------------------------------------------

// conv -> relu -> global average -> [penultimate] -> fc, or with a non-linear head.
class HeadModel : public medadv::TappedModule {
 public:
  explicit HeadModel(bool affine_head) : affine_(affine_head) {
    torch::manual_seed(5);
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 6, 3).padding(1)));
    fc = register_module("fc", torch::nn::Linear(6, 3));
  }
  std::vector<std::string> tap_names() const override { return {"penultimate", "logits"}; }
  medadv::ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    const auto pooled = torch::relu(conv->forward(x)).mean({2, 3});
    medadv::ModelOutput out;
    out.logits = affine_ ? fc->forward(pooled) : fc->forward(torch::tanh(3.0 * pooled));
    for (const auto& t : taps) out.taps[t] = t == "penultimate" ? pooled : out.logits;
    return out;
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  bool affine_;
};

TEST(FeatureDetectors, BuRecoversTheLinearHeadIsZeroWithoutDropoutAndRefusesANonLinearHead) {
  TestContext ctx(torch::kCPU);
  auto module = std::make_shared<HeadModel>(true);
  auto model = std::make_shared<ModuleModel>(module, 3, medadv::Task::Classification);
  const auto clean = medadv::testing::random_images(20, 3, 8, 1);
  const auto labels = predictions(*model, clean);
  auto off = make<f::Bu>("bu", {{"dropout", 0.0}}, ctx);
  EXPECT_FALSE(off->supervised());
  off->fit(*model, fit_data(*off, clean, labels, {}), ctx, nullptr);
  EXPECT_TRUE(torch::allclose(off->uncertainty().head_weight().to(torch::kFloat), module->fc->weight, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(off->uncertainty().head_bias().to(torch::kFloat), module->fc->bias, 1e-5, 1e-5));
  const auto x = medadv::testing::random_images(6, 3, 8, 2);
  EXPECT_LT(off->score(*model, x).abs().max().item<double>(), 1e-12);

  auto on = make<f::Bu>("bu", {}, ctx);
  on->fit(*model, fit_data(*on, clean, labels, {}), ctx, nullptr);
  const auto scores = on->score(*model, x);
  EXPECT_GT(scores.min().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(scores, on->score(*model, x)));  // same masks every call
  // The variance of a probability is at most 1/4.
  EXPECT_LE(scores.max().item<double>(), 0.25);

  auto bent = std::make_shared<ModuleModel>(std::make_shared<HeadModel>(false), 3, medadv::Task::Classification);
  auto refused = make<f::Bu>("bu", {}, ctx);
  try {
    refused->fit(*bent, fit_data(*refused, clean, labels, {}), ctx, nullptr);
    FAIL() << "a non-affine head must be refused";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("'penultimate'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(params_of<f::Bu>("bu", {{"taps", Value::Array{Value("a"), Value("b")}}}), medadv::ValidationError);
  EXPECT_THROW(params_of<f::Bu>("bu", {{"taps", Value::Array{Value("all")}}}), medadv::ValidationError);
}

// ---- schemas, taps, determinism ---------------------------------------------------------

TEST(FeatureDetectors, TapsComeFromWhatTheModelOffersAndAMissingTapIsNamed) {
  TestContext ctx;
  const std::vector<std::string> available{"block1", "block2", "penultimate", "logits"};
  EXPECT_EQ(make<f::Kd>("kd", {}, ctx)->taps(available), (std::vector<std::string>{"penultimate"}));
  EXPECT_EQ(make<f::Gmm>("gmm", {}, ctx)->taps(available), (std::vector<std::string>{"penultimate"}));
  EXPECT_EQ(make<f::Bu>("bu", {}, ctx)->taps(available), (std::vector<std::string>{"penultimate"}));
  const std::vector<std::string> all{"block1", "block2", "penultimate"};
  EXPECT_EQ(make<f::Lid>("lid", {}, ctx)->taps(available), all);
  EXPECT_EQ(make<f::Mahalanobis>("mahalanobis", {}, ctx)->taps(available), all);
  EXPECT_EQ(make<f::Mgm>("mgm", {}, ctx)->taps(available), all);
  EXPECT_EQ(make<f::KdBu>("kd-bu", {}, ctx)->taps(available), (std::vector<std::string>{"penultimate"}));
  auto lid = make<f::Lid>("lid", {{"taps", Value::Array{Value("block1"), Value("block9")}}}, ctx);
  try {
    lid->taps(available);
    FAIL() << "a missing tap must be refused";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("'block9'"), std::string::npos) << e.what();
  }
  // Range checks live in the schemas.
  EXPECT_THROW(params_of<f::Bu>("bu", {{"dropout", 1.5}}), medadv::ValidationError);
  EXPECT_THROW(params_of<f::Lid>("lid", {{"k", 1}}), medadv::ValidationError);
  EXPECT_THROW(params_of<f::Gmm>("gmm", {{"components", 0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<f::Mahalanobis>("mahalanobis", {{"combine", "max"}}), medadv::ValidationError);
  EXPECT_THROW(params_of<f::Mgm>("mgm", {{"ridge", 0.0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<f::KdBu>("kd-bu", {{"l2", -1.0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<f::Kd>("kd", {{"taps", Value::Array{}}}), medadv::ValidationError);
  // A segmentation model is refused.
  auto kd = make<f::Kd>("kd", {}, ctx);
  auto seg = std::make_shared<ModuleModel>(std::make_shared<LinearModel>(12, 2, 1), 2, medadv::Task::Segmentation);
  const auto images = medadv::testing::random_images(4, 3, 2, 1);
  EXPECT_THROW(kd->fit(*seg, fit_data(*kd, images, torch::zeros({4}, torch::kLong), {}), ctx, nullptr),
               medadv::InvalidInput);
}

TEST(FeatureDetectors, FittingIsDeterministicForASeed) {
  auto model = std::make_shared<ModuleModel>(std::make_shared<medadv::testing::TinyClassifier>(3, 2, 4), 2,
                                             medadv::Task::Classification);
  const auto clean = medadv::testing::random_images(40, 3, 16, 21);
  const auto labels = predictions(*model, clean);
  auto noise_gen = medadv::compat::cpu_generator(22);
  const auto adversarial = (clean + 0.1 * torch::randn(clean.sizes(), noise_gen)).clamp(0, 1);
  const auto x = medadv::testing::random_images(8, 3, 16, 23);
  auto scores_of = [&](const std::string& name, std::uint64_t seed) {
    TestContext ctx(torch::kCPU, seed);
    std::unique_ptr<medadv::Detector> d;
    if (name == "kd") d = make<f::Kd>(name, {{"bandwidth", "auto"}}, ctx);
    if (name == "bu") d = make<f::Bu>(name, {}, ctx);
    if (name == "kd-bu") d = make<f::KdBu>(name, {}, ctx);
    if (name == "lid") d = make<f::Lid>(name, {{"reference", 30}, {"k", 10}}, ctx);
    if (name == "mahalanobis") d = make<f::Mahalanobis>(name, {}, ctx);
    if (name == "mgm") d = make<f::Mgm>(name, {}, ctx);
    if (name == "gmm") d = make<f::Gmm>(name, {{"components", 3}, {"ridge", 1e-3}}, ctx);
    d->fit(*model, fit_data(*d, clean, labels, adversarial), ctx, nullptr);
    torch::NoGradGuard no_grad;
    return d->score(*model, x);
  };
  for (const char* name : {"kd", "bu", "kd-bu", "lid", "mahalanobis", "mgm", "gmm"}) {
    const auto a = scores_of(name, 3), b = scores_of(name, 3);
    EXPECT_TRUE(torch::equal(a, b)) << name;
    EXPECT_TRUE(torch::isfinite(a).all().item<bool>()) << name;
  }
  // The seed matters where randomness is used: the reference batch of lid, BU's masks.
  EXPECT_FALSE(torch::equal(scores_of("lid", 3), scores_of("lid", 4)));
  EXPECT_FALSE(torch::equal(scores_of("bu", 3), scores_of("bu", 4)));
}

// ---- strength on the trained fundus classifier --------------------------------------------

// PGD at 8/255 (10 steps of 2/255, random start) on the adv_train and adv_test splits,
// with the host's protocol (host/engine/detector_stage.cpp): fit on the adv_train images
// the attack turned (clean and, for supervised detectors, adversarial), score the turned
// adv_test images, ROC AUC of clean vs adversarial scores. Measured AUCs (this victim,
// seed 0): kd 0.92, kd-bu 0.91, lid 1.00, mahalanobis 0.99 (logistic and mean), mgm 1.00,
// gmm 0.92.
//
// bu does not separate plain PGD at 8/255: PGD pushes the examples deep into the wrong class,
// so their softmax under dropout varies LESS than that of clean images (AUC 0.19: the known
// limit of Bayesian uncertainty against high-confidence attacks, which the user guide tells
// readers to expect; asserted <= 0.35 so that the guide's statement stays true). It is
// asserted in its own regime instead, the same budget with early stop and fine steps (80 of
// 0.25/255: each image stops at the first step that turns it, just past the decision
// boundary, like Feinman et al.'s BIM-A): bu 0.99, kd-bu 0.97. There the density and distance
// detectors fall to 0.66-0.84, so no one PGD configuration has every detector at 0.9
// (the table of eleven configurations is in docs/decisions.md).
TEST(FeatureDetectorStrength, EveryDetectorSeparatesPgdOnTheFundusCnn) {
  const auto& v = medadv::testing::fundus_small_cnn();
  TestContext ctx(0);
  medadv::Capability capability = v.white_box();
  const medadv::Objective objective(medadv::BaseLoss::CrossEntropy, false);
  struct Split {
    torch::Tensor clean, labels, adversarial;
  };
  // The HFC protocol: keep the images the model classifies correctly and the attack turns.
  // Also the turned images' mean probability of their new class (metrics::adversarial_confidence).
  double confidence = 0.0;
  auto attacked = [&](medadv::Attack& attack, const torch::Tensor& images, const torch::Tensor& labels) {
    const auto r = attack.run({images, labels, {}}, capability, objective, ctx);
    const auto turned = medadv::metrics::per_sample_success_untargeted(predictions(*v.model, images),
                                                                      predictions(*v.model, r.adversarial), labels);
    const auto keep = torch::nonzero(turned).flatten().to(images.device());  // the metric answers on the CPU
    {
      torch::NoGradGuard no_grad;
      confidence = medadv::metrics::adversarial_confidence(
          medadv::metrics::predicted_class_probability(v.model->logits(r.adversarial)), turned);
    }
    std::cout << "[strength] PGD 8/255 turned " << keep.numel() << " of " << images.size(0)
              << " images, adversarial confidence " << confidence << "\n";
    return Split{images.index_select(0, keep), labels.index_select(0, keep), r.adversarial.index_select(0, keep)};
  };
  auto auc_of = [&](medadv::Detector& d, const std::string& name, const Split& train, const Split& test) {
    const auto data = fit_data(d, train.clean, train.labels, train.adversarial);
    if (!d.supervised()) {
      EXPECT_FALSE(data.adversarial) << name;
    }
    d.fit(*v.model, data, ctx, nullptr);
    torch::NoGradGuard no_grad;
    const auto scores = torch::cat({d.score(*v.model, test.clean), d.score(*v.model, test.adversarial)});
    const auto is_adversarial =
        torch::cat({torch::zeros({test.clean.size(0)}), torch::ones({test.adversarial.size(0)})});
    const double auc = medadv::metrics::roc_auc(scores.to(torch::kDouble), is_adversarial);
    const double tpr = medadv::metrics::tpr_at_tnr(scores.to(torch::kDouble), is_adversarial);
    std::cout << "[strength] fundus small-cnn, " << name << ": AUC " << auc << ", TPR@90 " << tpr << "\n";
    return auc;
  };

  auto pgd = make<medadv::plugins::gradient::Pgd>("pgd", {{"epsilon", "8/255"}}, ctx);
  const Split train = attacked(*pgd, v.adv_train_images, v.adv_train_labels);
  const Split test = attacked(*pgd, v.adv_test_images, v.adv_test_labels);
  EXPECT_GT(confidence, 0.99) << "the wrong class saturates";
  ASSERT_GE(train.clean.size(0), 40);
  ASSERT_GE(test.clean.size(0), 15);
  auto kd = make<f::Kd>("kd", {}, ctx);
  auto kd_bu = make<f::KdBu>("kd-bu", {}, ctx);
  auto lid = make<f::Lid>("lid", {}, ctx);
  auto maha = make<f::Mahalanobis>("mahalanobis", {}, ctx);
  auto maha_mean = make<f::Mahalanobis>("mahalanobis", {{"combine", "mean"}}, ctx);
  auto mgm = make<f::Mgm>("mgm", {}, ctx);
  auto gmm = make<f::Gmm>("gmm", {}, ctx);
  // Unsupervised: the host never hands them adversarial images.
  EXPECT_FALSE(mgm->supervised());
  EXPECT_FALSE(gmm->supervised());
  EXPECT_FALSE(maha_mean->supervised());
  EXPECT_GE(auc_of(*kd, "PGD 8/255, kd", train, test), 0.9);
  EXPECT_GE(auc_of(*kd_bu, "PGD 8/255, kd-bu", train, test), 0.9);
  EXPECT_GE(auc_of(*lid, "PGD 8/255, lid", train, test), 0.9);
  EXPECT_GE(auc_of(*maha, "PGD 8/255, mahalanobis (logistic)", train, test), 0.9);
  EXPECT_GE(auc_of(*maha_mean, "PGD 8/255, mahalanobis (mean)", train, test), 0.9);
  EXPECT_GE(auc_of(*mgm, "PGD 8/255, mgm", train, test), 0.9);
  EXPECT_GE(auc_of(*gmm, "PGD 8/255, gmm", train, test), 0.9);
  auto bu = make<f::Bu>("bu", {}, ctx);
  EXPECT_LE(auc_of(*bu, "PGD 8/255, bu (inverted, see above)", train, test), 0.35);

  auto pgd_near = make<medadv::plugins::gradient::Pgd>(
      "pgd", {{"epsilon", "8/255"}, {"step", "0.25/255"}, {"steps", std::int64_t{80}}, {"early_stop", true}}, ctx);
  const Split near_train = attacked(*pgd_near, v.adv_train_images, v.adv_train_labels);
  const Split near_test = attacked(*pgd_near, v.adv_test_images, v.adv_test_labels);
  EXPECT_LT(confidence, 0.75) << "the images stop just past the boundary";
  ASSERT_GE(near_test.clean.size(0), 15);
  EXPECT_GE(auc_of(*bu, "PGD 8/255, 80 steps of 0.25/255 with early stop, bu", near_train, near_test), 0.9);
  EXPECT_GE(auc_of(*kd_bu, "PGD 8/255, 80 steps of 0.25/255 with early stop, kd-bu", near_train, near_test), 0.9);
}

}  // namespace
