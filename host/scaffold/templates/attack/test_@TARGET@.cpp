// Tests of @NAME@ on a tiny classifier: the properties every L-inf attack must keep,
// and evidence that it actually attacks.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

#include "plugin_test_support.h"

namespace {

// A victim, a batch of images it classifies, and their clean logits.
struct scenario {
  std::shared_ptr<medadv::ModuleModel> victim = plugin_test::tiny_model();
  medadv::AttackBatch batch;
  torch::Tensor clean_logits;

  scenario() {
    batch.images = medadv::testing::random_images(8, 3, 32, 1);
    torch::NoGradGuard no_grad;
    clean_logits = victim->logits(batch.images);
    // Labels = clean predictions: every sample starts correctly classified.
    batch.labels = clean_logits.argmax(1);
  }
};

TEST(@CLASS@, StaysInsideTheBudgetAndRaisesTheLoss) {
  const auto params = plugin_test::params_with();
  medadv::testing::TestContext ctx;
  @CLASS@ attack(params, ctx);
  scenario given;
  medadv::Capability cap = medadv::Capability::white_box(given.victim);
  const medadv::Objective objective(medadv::BaseLoss::CrossEntropy, /*targeted=*/false);

  const medadv::AttackResult r = attack.run(given.batch, cap, objective, ctx);

  const auto& clean = given.batch.images;
  ASSERT_EQ(r.adversarial.sizes().vec(), clean.sizes().vec());
  const double epsilon = params.get_float("epsilon");
  EXPECT_LE(medadv::metrics::linf_norm(clean, r.adversarial).max().item<double>(), epsilon + 1e-6);
  EXPECT_GE(r.adversarial.min().item<double>(), 0.0);
  EXPECT_LE(r.adversarial.max().item<double>(), 1.0);

  torch::NoGradGuard no_grad;
  const torch::Tensor adv_logits = given.victim->logits(r.adversarial);
  const auto& y = given.batch.labels;
  const double before = medadv::cross_entropy_per_sample(given.clean_logits, y).mean().item<double>();
  const double after = medadv::cross_entropy_per_sample(adv_logits, y).mean().item<double>();
  EXPECT_GT(after, before);

  ASSERT_EQ(r.success.numel(), 8);
  EXPECT_EQ(r.success.scalar_type(), torch::kBool);
  EXPECT_TRUE(torch::equal(r.success, adv_logits.argmax(1).ne(y)));
  EXPECT_EQ(r.iterations.scalar_type(), torch::kInt64);
  EXPECT_EQ(r.queries.scalar_type(), torch::kInt64);
  EXPECT_EQ(r.queries.sum().item<std::int64_t>(), 0);
  // Attacks take gradients w.r.t. the input only and leave the victim's weights alone.
  for (const auto& w : given.victim->module().parameters()) EXPECT_FALSE(w.grad().defined());
}

TEST(@CLASS@, ZeroEpsilonReturnsTheCleanImages) {
  const auto params = plugin_test::params_with({{"epsilon", medadv::Value(0.0)}});
  medadv::testing::TestContext ctx;
  @CLASS@ attack(params, ctx);
  scenario given;
  medadv::Capability cap = medadv::Capability::white_box(given.victim);
  const medadv::Objective objective(medadv::BaseLoss::CrossEntropy, false);
  const medadv::AttackResult r = attack.run(given.batch, cap, objective, ctx);
  EXPECT_TRUE(torch::equal(r.adversarial, given.batch.images));
  EXPECT_FALSE(r.success.any().item<bool>());
}

TEST(@CLASS@, SchemaRejectsAnEpsilonAboveOne) {
  EXPECT_THROW(plugin_test::params_with({{"epsilon", medadv::Value("3/2")}}), medadv::InvalidInput);
}

}  // namespace
