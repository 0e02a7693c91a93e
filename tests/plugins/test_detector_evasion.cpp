// The detector-evasion attack term (plugins/attack-terms/adaptive/detector_evasion.h): minus
// the score of a detector the host fitted and handed over (medadv/detector_term.h), so the
// attack lowers exactly what the detector stage scores.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>

#include <medadv/detector_term.h>
#include <medadv/metrics.h>
#include <medadv/objective.h>
#include <medadv/testing.h>
#include <medadv/torch_compat.h>

#include "attack-terms/adaptive/detector_evasion.h"
#include "attack_test_kit.h"
#include "attacks/gradient/bim.h"
#include "detectors/feature/mahalanobis.h"
#include "trained_victims.h"

namespace {

using medadv::BaseLoss;
using medadv::Objective;
using medadv::Value;
using medadv::plugins::adaptive::DetectorEvasion;
using medadv::plugins::feature::Mahalanobis;

std::shared_ptr<DetectorEvasion> evasion_term(medadv::RunContext& ctx) {
  medadv::ParamSchema s;
  DetectorEvasion::schema(s);
  return std::make_shared<DetectorEvasion>(s.resolve_or_throw(Value(Value::Table{{"detector", "MAHA"}}), "detector-evasion"),
                                           ctx);
}

std::shared_ptr<Mahalanobis> mahalanobis_detector(medadv::RunContext& ctx) {
  medadv::ParamSchema s;
  Mahalanobis::schema(s);
  return std::make_shared<Mahalanobis>(s.resolve_or_throw(Value(Value::Table{}), "mahalanobis"), ctx);
}

// A detector without an input gradient (as bu and feature-squeezing are).
class NoGradientDetector : public medadv::Detector {
 public:
  std::vector<std::string> taps(const std::vector<std::string>&) const override { return {}; }
  bool supervised() const override { return false; }
  void fit(medadv::DifferentiableModel&, const medadv::DetectorFitData&, medadv::RunContext&,
           medadv::AttackFactory*) override {}
  torch::Tensor score(medadv::DifferentiableModel&, const torch::Tensor& x) override { return torch::zeros({x.size(0)}); }
};

TEST(DetectorEvasion, IsMinusTheHandedDetectorsScoreWithItsInputGradient) {
  medadv::testing::TestContext ctx(3);
  // Three classes, logits = W . flatten(x) + b; taps penultimate (the pixels) and logits.
  const auto module = std::make_shared<medadv::attack_testing::LinearModel>(1 * 4 * 4, 3, 1);
  const auto model = std::make_shared<medadv::ModuleModel>(module, 3, medadv::Task::Classification);
  const auto clean = medadv::testing::random_images(30, 1, 4, 7);
  const auto labels = torch::arange(30) % 3;
  const auto adversarial = (clean + 0.2 * medadv::testing::random_images(30, 1, 4, 8)).clamp(0, 1);
  auto detector = mahalanobis_detector(ctx);
  detector->fit(*model, medadv::detector_fit_data(clean, labels, adversarial), ctx, nullptr);

  const auto term = evasion_term(ctx);
  EXPECT_EQ(term->detector_label(), "MAHA");
  EXPECT_THROW(term->fit(*model, *medadv::tensor_batches(clean, labels), 8, ctx), medadv::Error)
      << "fit() before the host handed the detector over";
  EXPECT_THROW(term->use_detector(std::make_shared<NoGradientDetector>(), model), medadv::InvalidInput);
  term->use_detector(detector, model);
  term->fit(*model, *medadv::tensor_batches(clean, labels), 8, ctx);
  EXPECT_TRUE(term->taps().empty()) << "the detector reads its own taps";

  const auto x = medadv::testing::random_images(6, 1, 4, 9);
  const auto probe = x.clone().requires_grad_(true);
  const auto value = term->loss(model->forward(probe, term->taps()), probe, labels.slice(0, 0, 6), {});
  const auto gradient = torch::autograd::grad({value.sum()}, {probe})[0];
  const auto direct_probe = x.clone().requires_grad_(true);
  const auto score = detector->score(*model, direct_probe);
  const auto direct_gradient = torch::autograd::grad({score.sum()}, {direct_probe})[0];
  EXPECT_TRUE(torch::allclose(value.detach(), -score.detach()));
  EXPECT_TRUE(torch::allclose(gradient, -direct_gradient));
  EXPECT_GT(gradient.abs().sum().item<double>(), 0.0);
}

// The check on the CI victim: Mahalanobis fitted on plain targeted BIM's turned
// adv_train samples, as the detector stage fits it; BIM + detector-evasion on adv_test
// leaves the detector lower scores and a lower AUC than plain BIM.
TEST(DetectorEvasion, LowersTheMahalanobisScoreOfTargetedBimOnTheFundusVictim) {
  const auto& v = medadv::testing::fundus_small_cnn();
  medadv::testing::TestContext ctx(5);
  medadv::ParamSchema s;
  medadv::plugins::gradient::Bim::schema(s);
  medadv::plugins::gradient::Bim bim(
      s.resolve_or_throw(Value(Value::Table{{"epsilon", "8/255"}, {"step", "1/255"}, {"steps", 20}}), "bim"), ctx);
  auto attack = [&](const torch::Tensor& images, const torch::Tensor& labels, std::shared_ptr<medadv::AttackTerm> term) {
    const auto correct = v.correctly_classified(images, labels);
    const torch::Tensor &x = correct.first, &y = correct.second;
    Objective objective(BaseLoss::CrossEntropy, true);
    if (term) objective.add_term(term, 1.0, "detector-evasion");
    medadv::Capability capability = v.white_box();
    const auto r = bim.run({x, y, 1 - y}, capability, objective, ctx);
    return std::make_tuple(x, y, r);
  };
  const auto [fit_x, fit_y, fit_r] = attack(v.adv_train_images, v.adv_train_labels, nullptr);
  const auto fit_turned = torch::nonzero(fit_r.success).flatten();
  ASSERT_GE(fit_turned.numel(), 20);
  auto detector = mahalanobis_detector(ctx);
  detector->fit(*v.model,
                medadv::detector_fit_data(fit_x.index_select(0, fit_turned), fit_y.index_select(0, fit_turned),
                                          fit_r.adversarial.index_select(0, fit_turned)),
                ctx, nullptr);
  const auto term = evasion_term(ctx);
  term->use_detector(detector, v.model);

  const auto plain = attack(v.adv_test_images, v.adv_test_labels, nullptr);
  const auto evading = attack(v.adv_test_images, v.adv_test_labels, term);
  const auto& x = std::get<0>(plain);
  const auto& plain_r = std::get<2>(plain);
  const auto& evading_r = std::get<2>(evading);
  torch::NoGradGuard no_grad;
  const auto both = torch::nonzero(plain_r.success.logical_and(evading_r.success)).flatten();
  ASSERT_GE(both.numel(), 10);
  const double plain_score = detector->score(*v.model, plain_r.adversarial.index_select(0, both)).mean().item<double>();
  const double evading_score =
      detector->score(*v.model, evading_r.adversarial.index_select(0, both)).mean().item<double>();
  auto auc = [&](const medadv::AttackResult& r) {
    const auto turned = torch::nonzero(r.success).flatten();
    const auto scores = torch::cat({detector->score(*v.model, x.index_select(0, turned)),
                                    detector->score(*v.model, r.adversarial.index_select(0, turned))});
    const auto positive =
        torch::cat({torch::zeros({turned.numel()}, torch::kBool), torch::ones({turned.numel()}, torch::kBool)});
    return medadv::metrics::roc_auc(scores.cpu(), positive);
  };
  const double without = auc(plain_r), with = auc(evading_r);
  std::cout << "[strength] fundus small-cnn, targeted BIM 8/255 x20, Mahalanobis fitted on BIM: mean score " << plain_score
            << " -> " << evading_score << " with detector-evasion; AUC " << without << " -> " << with << "; success "
            << plain_r.success.sum().item<std::int64_t>() << " / " << evading_r.success.sum().item<std::int64_t>()
            << " of " << x.size(0) << "\n";
  EXPECT_LT(evading_score, plain_score);
  EXPECT_LT(with, without - 0.4);
}

}  // namespace
