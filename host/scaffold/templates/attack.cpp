// The `medadv new attack` template: the plugin class and its test.
#include "scaffold/kind_template.h"

namespace medadv::host::scaffold {

KindTemplate attack_template() {
  KindTemplate t;
  t.helper = "attack";
  t.threat = ",\n    medadv::ThreatModel::WhiteBox";
  t.summary = "One-step L-inf gradient-sign attack (FGSM)";
  t.about = R"TPL(A white-box attack: one step of size `epsilon` along the sign of the gradient of
the experiment's objective (Goodfellow et al., 2015, "FGSM"), clamped to the image
range [0,1]. It optimises whatever `Objective` the experiment gives it (cross-entropy,
CW margin, DLR, targeted or not, plus any add-on attack terms), so it needs no code
for those cases.

| parameter | type | default | meaning |
|-----------|------|---------|---------|
| `epsilon` | epsilon in [0, 1] | `"8/255"` | L-inf radius, in [0,1] pixel units (a number or a fraction) |

Natural next steps: several steps with projection (PGD), a random start, early
stopping once `objective.success(...)` holds.)TPL";
  t.header = R"TPL(#pragma once
// @NAME@: a one-step L-inf gradient-sign attack (FGSM, Goodfellow et al., 2015).
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <cstdint>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::Attack {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255", "L-inf radius of the perturbation, in [0,1] pixel units").max(1.0);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/) : epsilon_(p.get_float("epsilon")) {}

  medadv::AttackResult run(const medadv::AttackBatch& batch, medadv::Capability& cap,
                           const medadv::Objective& objective, medadv::RunContext& /*ctx*/) override {
    // The victim (white-box). The host has already put any preprocessing defense (with
    // BPDA) and randomized wrapper in front of it, so no special cases are needed here.
    medadv::DifferentiableModel& model = cap.gradient_model();
    const torch::Tensor clean = batch.images.detach();
    const torch::Tensor x = clean.clone().requires_grad_(true);

    // One forward that also computes the taps any add-on terms of the objective read.
    const medadv::ModelOutput out = model.forward(x, objective.required_taps());
    // Samples are independent, so the gradient of the sum is each sample's own gradient.
    const torch::Tensor total = objective.evaluate(out, x, batch.labels, batch.targets).sum();
    // Gradient w.r.t. the input only: backward() would also fill the frozen weights' .grad.
    const torch::Tensor grad = torch::autograd::grad({total}, {x})[0];

    torch::NoGradGuard no_grad;
    medadv::AttackResult r;
    // The clean image is in [0,1], so clamping keeps the step inside the epsilon ball.
    r.adversarial = (clean + epsilon_ * grad.sign()).clamp(0.0, 1.0);
    r.success = objective.success(model.logits(r.adversarial), batch.labels, batch.targets);
    const auto counts = torch::TensorOptions().dtype(torch::kInt64).device(clean.device());
    r.iterations = torch::ones({clean.size(0)}, counts);
    r.queries = torch::zeros({clean.size(0)}, counts);  // white-box: no oracle queries
    return r;
  }

 private:
  double epsilon_;
};
)TPL";
  t.test = R"TPL(// Tests of @NAME@ on a tiny classifier: the properties every L-inf attack must keep,
// and evidence that it actually attacks.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

namespace {

// A victim, a batch of images it classifies, and their clean logits.
struct scenario {
  std::shared_ptr<medadv::ModuleModel> victim = std::make_shared<medadv::ModuleModel>(
      std::make_shared<medadv::testing::TinyClassifier>(3, 3, 0), 3, medadv::Task::Classification);
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
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
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
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params =
      s.resolve_or_throw(medadv::Value(medadv::Value::Table{{"epsilon", medadv::Value(0.0)}}), "@NAME@");
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
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  EXPECT_THROW(s.resolve_or_throw(medadv::Value(medadv::Value::Table{{"epsilon", medadv::Value("3/2")}}), "@NAME@"),
               medadv::InvalidInput);
}

}  // namespace
)TPL";
  return t;
}

}  // namespace medadv::host::scaffold
