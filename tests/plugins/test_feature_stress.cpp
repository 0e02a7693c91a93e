// The feature stress test term (plugins/attack-terms/stress): its loss is the tap's mean
// by hand, signed by the direction; a missing tap is refused by name; carried by BIM with
// no base loss it lowers ("down") or raises ("up") the mean activation of a tap of the
// trained fundus classifier, and its summary reports exactly that.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>

#include <medadv/testing.h>

#include "attack-terms/stress/feature_stress.h"
#include "attacks/gradient/pgd.h"
#include "trained_victims.h"

namespace {

using medadv::BaseLoss;
using medadv::Objective;
using medadv::Value;
using medadv::plugins::stress::FeatureStress;

std::shared_ptr<FeatureStress> term(Value::Table overrides, medadv::RunContext& ctx) {
  medadv::ParamSchema s;
  FeatureStress::schema(s);
  return std::make_shared<FeatureStress>(s.resolve_or_throw(Value(std::move(overrides)), "feature-stress"), ctx);
}

TEST(FeatureStress, LossIsTheSignedTapMeanByHandAndAMissingTapIsNamed) {
  medadv::testing::TestContext ctx;
  auto model = std::make_shared<medadv::ModuleModel>(std::make_shared<medadv::testing::TinyClassifier>(3, 3, 0), 3,
                                                     medadv::Task::Classification);
  auto down = term({}, ctx);  // defaults: penultimate, down
  auto up = term({{"direction", "up"}}, ctx);
  const auto x = medadv::testing::random_images(3, 3, 32, 1);
  down->fit(*model, *medadv::tensor_batches(x, torch::tensor({0, 1, 2})), 3, ctx);
  const auto out = model->forward(x, down->taps());
  const auto tap = out.tap("penultimate").contiguous().to(torch::kDouble);
  const auto per_sample = tap.flatten(1);
  for (std::int64_t b = 0; b < 3; ++b) {
    double sum = 0;
    for (std::int64_t i = 0; i < per_sample.size(1); ++i) sum += per_sample[b][i].item<double>();
    const double mean = sum / static_cast<double>(per_sample.size(1));
    EXPECT_NEAR(down->loss(out, x, {}, {})[b].item<double>(), -mean, 1e-6);
    EXPECT_NEAR(up->loss(out, x, {}, {})[b].item<double>(), mean, 1e-6);
  }
  auto missing = term({{"tap", "blokc2"}}, ctx);
  try {
    missing->fit(*model, *medadv::tensor_batches(x, torch::tensor({0, 1, 2})), 3, ctx);
    FAIL() << "a missing tap must be refused";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("no tap 'blokc2'"), std::string::npos) << e.what();
  }
}

TEST(FeatureStress, BimPushesAFundusCnnTapDownAndUpAndReportsIt) {
  const auto& v = medadv::testing::fundus_small_cnn();
  medadv::testing::TestContext ctx(2);
  medadv::ParamSchema s;
  medadv::plugins::gradient::Pgd::schema(s);
  // BIM (pgd without random start) at the Medical Aegis budget, 4/256, 10 steps.
  medadv::plugins::gradient::Pgd bim(
      s.resolve_or_throw(Value(Value::Table{{"epsilon", "4/256"}, {"step", "0.5/256"}, {"steps", 10},
                                            {"random_start", false}}),
                         "pgd"),
      ctx);
  auto mean_block2 = [&](const torch::Tensor& images) {
    torch::NoGradGuard no_grad;
    return v.model->forward(images, {"block2"}).tap("block2").mean().item<double>();
  };
  const double clean = mean_block2(v.test_images);
  for (const char* direction : {"down", "up"}) {
    auto stress = term({{"tap", "block2"}, {"direction", direction}}, ctx);
    stress->fit(*v.model, *medadv::tensor_batches(v.adv_train_images, v.adv_train_labels), 32, ctx);
    Objective objective(BaseLoss::None, false);  // the term alone
    objective.add_term(stress, 1.0, "feature-stress");
    medadv::Capability capability = v.white_box();
    const auto r = bim.run({v.test_images, v.test_labels, {}}, capability, objective, ctx);
    const double adversarial = mean_block2(r.adversarial);
    const auto figures =
        stress->summarize(*v.model, *medadv::tensor_batches(v.test_images), *medadv::tensor_batches(r.adversarial), 32, ctx);
    std::cout << "[strength] fundus small-cnn block2 mean, BIM 4/256 x10 " << direction << ": " << clean << " -> "
              << adversarial << " (relative change " << figures.at("stress.block2.relative_change") << ")\n";
    if (std::string(direction) == "down") EXPECT_LT(adversarial, 0.9 * clean);
    else EXPECT_GT(adversarial, 1.1 * clean);
    EXPECT_NEAR(figures.at("stress.block2.clean_mean"), clean, 1e-5 * std::abs(clean));
    EXPECT_NEAR(figures.at("stress.block2.adversarial_mean"), adversarial, 1e-5 * std::abs(adversarial));
    EXPECT_NEAR(figures.at("stress.block2.relative_change"), (adversarial - clean) / std::abs(clean), 1e-5);
  }
}

}  // namespace
