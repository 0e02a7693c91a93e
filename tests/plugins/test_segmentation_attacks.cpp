// Attacks on a segmentation model through the Objective's segmentation losses: a soft
// Dice PGD (the gradient family's pgd, unchanged) on the trained phantom-xray U-Net.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include <medadv/metrics.h>
#include <medadv/testing.h>

#include "attacks/gradient/pgd.h"
#include "trained_victims.h"

namespace {

using medadv::BaseLoss;
using medadv::Objective;
using medadv::Value;

torch::Tensor predicted_masks(medadv::DifferentiableModel& model, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  return medadv::metrics::label_map_from_logits(model.logits(images));
}

double foreground_share(const torch::Tensor& masks) { return masks.ne(0).to(torch::kDouble).mean().item<double>(); }

// Survey protocol (ATTACKS.md): PGD at 8/255; here 10 steps of 2/255 from a random start.
torch::Tensor pgd(const medadv::testing::TrainedVictim& v, const Objective& objective, const torch::Tensor& targets) {
  medadv::testing::TestContext ctx(5);
  medadv::ParamSchema s;
  medadv::plugins::gradient::Pgd::schema(s);
  medadv::plugins::gradient::Pgd attack(
      s.resolve_or_throw(Value(Value::Table{{"epsilon", "8/255"}, {"step", "2/255"}, {"steps", 10}}), "pgd"), ctx);
  medadv::Capability capability = v.white_box();
  const medadv::AttackBatch batch{v.test_images, v.test_labels, targets};
  const auto r = attack.run(batch, capability, objective, ctx);
  EXPECT_LE(medadv::metrics::linf_norm(v.test_images, r.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
  EXPECT_GE(r.adversarial.min().item<double>(), 0.0);
  EXPECT_LE(r.adversarial.max().item<double>(), 1.0);
  return r.adversarial;
}

TEST(SegmentationAttacks, DiceLossPgdHalvesTheXrayUnetsDiceAndTheEmptyTargetShrinksTheMask) {
  const auto& v = medadv::testing::xray_unet();
  auto& model = *v.model;
  const auto truth = v.test_labels.round().to(torch::kLong);
  const auto clean = predicted_masks(model, v.test_images);
  const double clean_dice = medadv::metrics::dice(clean, truth);
  ASSERT_GE(clean_dice, 0.85) << "the victim segments the lung fields";

  // Untargeted: maximise the soft Dice loss against the true mask.
  const auto untargeted = predicted_masks(model, pgd(v, Objective(BaseLoss::SoftDice, false), {}));
  const double adversarial_dice = medadv::metrics::dice(untargeted, truth);
  std::cout << "[strength] xray unet, soft-Dice PGD 8/255 x10: Dice " << clean_dice << " -> " << adversarial_dice
            << " on " << truth.size(0) << " test images\n";
  EXPECT_LE(adversarial_dice, 0.5 * clean_dice) << "the attack at least halves the mean Dice";

  // Targeted: minimise the soft Dice loss towards the empty mask.
  const auto empty = torch::zeros_like(v.test_labels);
  const auto vanished = predicted_masks(model, pgd(v, Objective(BaseLoss::SoftDice, true), empty));
  const double clean_area = foreground_share(clean), adversarial_area = foreground_share(vanished);
  const double reached = medadv::segmentation_attack_success_rate(clean, vanished, truth, empty);
  std::cout << "[strength] xray unet, soft-Dice PGD 8/255 x10 towards the empty mask: predicted foreground "
            << clean_area << " -> " << adversarial_area << " of the pixels; reached (<= 10% of the truth) "
            << reached << "\n";
  EXPECT_LE(adversarial_area, 0.5 * clean_area) << "the predicted lung area at least halves";
}

}  // namespace
