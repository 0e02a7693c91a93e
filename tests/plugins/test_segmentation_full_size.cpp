// The survey's Table 4 claim at the size where it holds: a soft-Dice PGD at 8/255 halves a
// trained U-Net's Dice on the lung fields of phantom-xray at 256 px (the full size of
// experiments/survey_segmentation.toml: 400 images, base width 16, 10 epochs, PGD-20 with
// steps of 2/255). At the 32-64 px the CPU suite can train, the phantom's fields resist
// 8/255 (test_segmentation_attacks.cpp and docs/reproductions.md, Table 4).
//
// Training at 256 px takes about 23 minutes on 2 CPU cores and seconds on a GPU, so the test
// runs when the tests' device is CUDA (scripts/gpu-check) or when MEDADV_FULL_SIZE_TESTS=1
// asks for it on the CPU; otherwise it is skipped and says how to run it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include <medadv/metrics.h>
#include <medadv/testing.h>

#include "attacks/gradient/pgd.h"
#include "trained_victims.h"

namespace {

bool full_size_requested() {
  const char* flag = std::getenv("MEDADV_FULL_SIZE_TESTS");
  return medadv::testing::TestContext(0).device().is_cuda() || (flag != nullptr && std::string(flag) == "1");
}

TEST(SegmentationAttacksFullSize, SoftDicePgdAt8Over255HalvesThe256PxXrayUnet) {
  if (!full_size_requested()) {
    GTEST_SKIP() << "full size (256 px U-Net, about 25 min on 2 CPU cores): runs on CUDA "
                    "(MEDADV_TEST_DEVICE=cuda) or with MEDADV_FULL_SIZE_TESTS=1";
  }
  const auto& v = medadv::testing::xray_unet_full_size();
  const auto truth = v.adv_test_labels.round().to(torch::kLong);
  const double clean_dice = medadv::metrics::dice(v.predicted_masks(v.adv_test_images), truth);
  ASSERT_GE(clean_dice, 0.95) << "the victim segments the lung fields";

  medadv::testing::TestContext ctx(0);
  medadv::ParamSchema s;
  medadv::plugins::gradient::Pgd::schema(s);
  medadv::plugins::gradient::Pgd pgd(
      s.resolve_or_throw(medadv::Value(medadv::Value::Table{{"epsilon", "8/255"}, {"step", "2/255"}, {"steps", 20}}),
                         "pgd"),
      ctx);
  medadv::Capability capability = v.white_box();
  const medadv::Objective untargeted(medadv::BaseLoss::SoftDice, false);
  const auto r = pgd.run({v.adv_test_images, v.adv_test_labels, {}}, capability, untargeted, ctx);
  EXPECT_LE(medadv::metrics::linf_norm(v.adv_test_images, r.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
  const auto attacked = v.predicted_masks(r.adversarial);
  const double attacked_dice = medadv::metrics::dice(attacked, truth);
  std::cout << "[strength] 256 px xray unet (" << truth.size(0) << " adv_test images), soft-Dice PGD-20 at 8/255: Dice "
            << clean_dice << " -> " << attacked_dice << "\n";
  EXPECT_LE(attacked_dice, 0.5 * clean_dice) << "the survey's budget halves the Dice at 256 px";
}

}  // namespace
