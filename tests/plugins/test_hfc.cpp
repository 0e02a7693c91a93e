// The HFC attack term (plugins/attack-terms/adaptive): its constraint is the Mahalanobis
// distance to the most responsible component over the features' dimension, checked with
// explicit inverses and a brute-force argmax; one component is the Gaussian log density;
// weight 0 leaves targeted BIM bit for bit; with weight 1 (mixtures fitted as the paper, on
// the victim's training images, with the Dirichlet-process prior) BIM's adversarial features
// end nearer the target class's mixtures than plain BIM's on the trained fundus classifier,
// and the targeted success rate stays within 10 points.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <memory>

#include <medadv/metrics.h>
#include <medadv/objective.h>
#include <medadv/testing.h>
#include <medadv/torch_compat.h>

#include "attack-terms/adaptive/hfc.h"
#include "attack_test_kit.h"
#include "attacks/gradient/bim.h"
#include "detectors/feature/mahalanobis.h"
#include "trained_victims.h"

namespace {

using medadv::BaseLoss;
using medadv::GaussianMixture;
using medadv::Objective;
using medadv::Value;
using medadv::plugins::adaptive::Hfc;

constexpr double kLog2Pi = 1.8378770664093453;

GaussianMixture random_mixture(std::int64_t components, std::int64_t dim, std::uint64_t seed) {
  auto gen = medadv::compat::cpu_generator(seed);
  auto options = torch::TensorOptions().dtype(torch::kDouble);
  const auto a = torch::randn({components, dim, dim}, gen, options);
  const auto covariances = torch::matmul(a, a.transpose(1, 2)) + 0.5 * torch::eye(dim, options);
  return GaussianMixture::from_parameters(torch::rand({components}, gen, options) + 0.1,
                                          torch::randn({components, dim}, gen, options) * 2, covariances);
}

TEST(Hfc, ConstraintIsTheMahalanobisDistanceOfTheMostResponsibleComponentByHand) {
  const std::int64_t K = 3, D = 4, B = 7;
  const auto mixture = random_mixture(K, D, 1);
  auto gen = medadv::compat::cpu_generator(2);
  const auto f = torch::randn({B, D}, gen, torch::TensorOptions().dtype(torch::kDouble)) * 2;
  const auto weights = mixture.log_weights().exp();
  const auto value = Hfc::constraint(mixture, f);
  for (std::int64_t i = 0; i < B; ++i) {
    std::int64_t best = -1;
    double best_density = -INFINITY, best_distance = 0;
    for (std::int64_t k = 0; k < K; ++k) {
      const auto sigma = mixture.covariances()[k];
      const auto diff = f[i] - mixture.means()[k];
      const double d2 = torch::dot(diff, torch::matmul(torch::inverse(sigma), diff)).item<double>();
      const double density = std::log(weights[k].item<double>()) - 0.5 * d2 -
                             0.5 * (D * kLog2Pi + torch::logdet(sigma).item<double>());
      if (density > best_density) best_density = density, best = k, best_distance = d2;
    }
    EXPECT_EQ(mixture.most_responsible(f)[i].item<std::int64_t>(), best) << i;
    EXPECT_NEAR(value[i].item<double>(), best_distance / D, 1e-9 * (1 + best_distance)) << i;
  }
}

TEST(Hfc, OneComponentIsTheGaussianLogDensity) {
  const std::int64_t D = 5;
  const auto mixture = random_mixture(1, D, 3);
  auto gen = medadv::compat::cpu_generator(4);
  const auto f = torch::randn({6, D}, gen, torch::TensorOptions().dtype(torch::kDouble));
  const double log_det = torch::logdet(mixture.covariances()[0]).item<double>();
  // log N(f) = -D/2 (the constraint) - (D log 2pi + log det Sigma) / 2.
  const auto from_constraint = -0.5 * D * Hfc::constraint(mixture, f) - 0.5 * (D * kLog2Pi + log_det);
  EXPECT_TRUE(torch::allclose(from_constraint, mixture.log_likelihood(f), 1e-10, 1e-9));
}

std::shared_ptr<Hfc> fitted_hfc(const medadv::testing::TrainedVictim& v, medadv::RunContext& ctx) {
  medadv::ParamSchema s;
  Hfc::schema(s);
  auto hfc = std::make_shared<Hfc>(s.resolve_or_throw(Value(Value::Table{{"components", 4}}), "hfc"), ctx);
  // As the paper: on the victim's training images.
  hfc->fit(*v.model, *medadv::tensor_batches(v.train_images, v.train_labels), 32, ctx);
  return hfc;
}

// The term's distance summed over the fitted taps, per image, towards `targets`.
torch::Tensor target_distance(Hfc& hfc, const medadv::testing::TrainedVictim& v, const torch::Tensor& images,
                              const torch::Tensor& targets) {
  torch::NoGradGuard no_grad;
  const auto out = v.model->forward(images, hfc.taps());
  return -hfc.loss(out, images, {}, targets);
}

TEST(Hfc, WeightZeroIsTargetedBimBitForBitAndWeightOneEndsNearerTheTargetMixtures) {
  const auto& v = medadv::testing::fundus_small_cnn();
  medadv::testing::TestContext ctx(5);
  const auto hfc = fitted_hfc(v, ctx);
  EXPECT_EQ(hfc->fitted_taps(), (std::vector<std::string>{"block1", "block2", "block3", "penultimate"}));

  // The paper's protocol: correctly classified images, targeted at the other class.
  const auto correct = v.correctly_classified(v.test_images, v.test_labels);
  const torch::Tensor &x = correct.first, &y = correct.second;
  const auto targets = 1 - y;
  medadv::ParamSchema s;
  medadv::plugins::gradient::Bim::schema(s);
  medadv::plugins::gradient::Bim bim(
      s.resolve_or_throw(Value(Value::Table{{"epsilon", "4/255"}, {"step", "0.5/255"}, {"steps", 20}}), "bim"), ctx);
  auto attack = [&](double weight, bool with_term) {
    Objective objective(BaseLoss::CrossEntropy, true);
    if (with_term) objective.add_term(hfc, weight, "hfc");
    medadv::Capability capability = v.white_box();
    return bim.run({x, y, targets}, capability, objective, ctx);
  };
  const auto plain = attack(0.0, false);
  EXPECT_TRUE(torch::equal(attack(0.0, true).adversarial, plain.adversarial));

  const auto constrained = attack(1.0, true);
  const auto both = torch::nonzero(plain.success.logical_and(constrained.success)).flatten();
  ASSERT_GE(both.numel(), 10) << "too few images turned by both attacks to compare";
  const double clean = target_distance(*hfc, v, x, targets).mean().item<double>();
  const double bim_distance = target_distance(*hfc, v, plain.adversarial.index_select(0, both), targets.index_select(0, both)).mean().item<double>();
  const double hfc_distance = target_distance(*hfc, v, constrained.adversarial.index_select(0, both), targets.index_select(0, both)).mean().item<double>();
  std::cout << "[strength] fundus small-cnn, targeted BIM 4/255 x20: summed HFC distance to the target class "
            << "(clean " << clean << "), BIM " << bim_distance << ", BIM+HFC " << hfc_distance << "; success "
            << plain.success.sum().item<std::int64_t>() << " vs " << constrained.success.sum().item<std::int64_t>()
            << " of " << x.size(0) << "\n";
  EXPECT_LT(hfc_distance, 0.5 * bim_distance);
  // The constraint costs the attack little: its targeted success stays within 10 points.
  EXPECT_GE(constrained.success.sum().item<double>(), plain.success.sum().item<double>() - 0.1 * x.size(0));
}

// The strength check, with the host's protocol and the paper's: the Mahalanobis
// detector is fitted on adv_train's samples that plain targeted BIM turned (clean and
// adversarial), then scores adv_test's turned samples of BIM and of BIM + HFC, at the
// budget of the CI detector test (8/255; 20 steps of 1/255). Its AUC falls by at least 40
// points with HFC, and the targeted success rate stays within 10 points.
TEST(Hfc, MahalanobisAucFallsByFortyPointsAtTheDetectorTestsBudget) {
  const auto& v = medadv::testing::fundus_small_cnn();
  medadv::testing::TestContext ctx(5);
  const auto hfc = fitted_hfc(v, ctx);
  medadv::ParamSchema s;
  medadv::plugins::gradient::Bim::schema(s);
  medadv::plugins::gradient::Bim bim(
      s.resolve_or_throw(Value(Value::Table{{"epsilon", "8/255"}, {"step", "1/255"}, {"steps", 20}}), "bim"), ctx);
  struct Turned {
    torch::Tensor clean, adversarial, labels;
    std::int64_t attacked = 0, turned = 0;
  };
  // Correctly classified images targeted at the other class; the ones the attack turned.
  auto attack = [&](const torch::Tensor& images, const torch::Tensor& labels, bool with_hfc) {
    const auto correct = v.correctly_classified(images, labels);
    const torch::Tensor &x = correct.first, &y = correct.second;
    Objective objective(BaseLoss::CrossEntropy, true);
    if (with_hfc) objective.add_term(hfc, 1.0, "hfc");
    medadv::Capability capability = v.white_box();
    const auto r = bim.run({x, y, 1 - y}, capability, objective, ctx);
    const auto turned = torch::nonzero(r.success).flatten();
    return Turned{x.index_select(0, turned), r.adversarial.index_select(0, turned), y.index_select(0, turned),
                  x.size(0), turned.numel()};
  };
  const Turned fit = attack(v.adv_train_images, v.adv_train_labels, false);
  const Turned plain = attack(v.adv_test_images, v.adv_test_labels, false);
  const Turned constrained = attack(v.adv_test_images, v.adv_test_labels, true);
  ASSERT_GE(fit.turned, 20);
  ASSERT_GE(plain.turned, 10);
  ASSERT_GE(constrained.turned, 10);

  medadv::ParamSchema ds;
  medadv::plugins::feature::Mahalanobis::schema(ds);
  medadv::plugins::feature::Mahalanobis maha(ds.resolve_or_throw(Value(Value::Table{}), "mahalanobis"), ctx);
  maha.fit(*v.model, medadv::detector_fit_data(fit.clean, fit.labels, fit.adversarial), ctx, nullptr);
  auto auc = [&](const Turned& t) {
    torch::NoGradGuard no_grad;
    const auto scores = torch::cat({maha.score(*v.model, t.clean), maha.score(*v.model, t.adversarial)});
    const auto positive = torch::cat({torch::zeros({t.turned}, torch::kBool), torch::ones({t.turned}, torch::kBool)});
    return medadv::metrics::roc_auc(scores.cpu(), positive);
  };
  const double without = auc(plain), with = auc(constrained);
  std::cout << "[strength] fundus small-cnn, targeted BIM 8/255 x20, Mahalanobis fitted on BIM (" << fit.turned
            << " adv_train samples): AUC " << without << " without HFC, " << with << " with; success "
            << plain.turned << " / " << constrained.turned << " of " << plain.attacked << "\n";
  EXPECT_GE(without - with, 0.40);
  EXPECT_GE(static_cast<double>(constrained.turned), plain.turned - 0.1 * static_cast<double>(plain.attacked));
}

TEST(Hfc, RefusesSegmentationLabelsAndAnUntargetedMultiClassAttack) {
  medadv::testing::TestContext ctx(0);
  medadv::ParamSchema s;
  Hfc::schema(s);
  Hfc hfc(s.resolve_or_throw(Value(Value::Table{{"components", 2}}), "hfc"), ctx);
  // Three classes, logits = W . flatten(x) + b, taps penultimate (the pixels) and logits.
  const auto module = std::make_shared<medadv::attack_testing::LinearModel>(1 * 4 * 4, 3, 1);
  medadv::ModuleModel model(module, 3, medadv::Task::Classification);
  const auto x = medadv::testing::random_images(12, 1, 4, 2);
  const auto y = torch::arange(12) % 3;
  EXPECT_THROW(hfc.fit(model, *medadv::tensor_batches(x, torch::zeros({12, 1, 4, 4})), 4, ctx), medadv::InvalidInput);
  hfc.fit(model, *medadv::tensor_batches(x, y), 4, ctx);
  EXPECT_EQ(hfc.taps(), (std::vector<std::string>{"penultimate"}));
  const auto out = model.forward(x, hfc.taps());
  // Untargeted with three classes: no target class to constrain to; targeted, a value per image.
  EXPECT_THROW(hfc.loss(out, x, y, {}), medadv::InvalidInput);
  EXPECT_EQ(hfc.loss(out, x, y, (y + 1) % 3).sizes(), (std::vector<std::int64_t>{12}));
}

}  // namespace
