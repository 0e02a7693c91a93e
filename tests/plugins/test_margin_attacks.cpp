// The margin and optimisation attack family (cw-linf, cw-l2, deepfool, apgd): closed
// forms on linear models, APGD's checkpoints, budgets, strength on the trained fundus
// classifier against PGD, determinism, refusals, and that the model's weights are left
// alone. The CW margin and DLR losses themselves are checked in tests/sdk/test_objective.cpp.
#include <gtest/gtest.h>

#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <medadv/metrics.h>
#include <medadv/testing.h>

#include "attacks/gradient/pgd.h"
#include "attacks/margin/apgd.h"
#include "attacks/margin/cw_l2.h"
#include "attacks/margin/cw_linf.h"
#include "attacks/margin/deepfool.h"
#include "attack_test_kit.h"
#include "trained_victims.h"

namespace {

namespace m = medadv::plugins::margin;
using namespace medadv::attack_testing;

// The same on a trained victim (already frozen).
template <class T>
AttackResult run_on(const medadv::testing::TrainedVictim& v, const std::string& name, Value::Table overrides,
                    const AttackBatch& batch, const Objective& objective = Objective(BaseLoss::CrossEntropy, false)) {
  medadv::testing::TestContext ctx(0);
  T attack(params_of<T>(name, std::move(overrides)), ctx);
  Capability cap = v.white_box();
  return attack.run(batch, cap, objective, ctx);
}

torch::Tensor predictions(medadv::TappedModule& model, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return model.forward(x).argmax(1);
}

// A binary linear model whose boundary z_1 = z_0 passes through the flat 0.5 image, and
// images near it (0.5 +- 0.05 per pixel) labelled with their prediction: the boundary is
// close, so no step reaches the [0,1] edges and the closed forms hold unclipped.
struct LinearBinary {
  std::shared_ptr<LinearModel> model;
  torch::Tensor images, labels;
  torch::Tensor w, h;  // boundary normal w = W_1 - W_0 and h(x) = w . x + b_1 - b_0 per image
};

LinearBinary linear_binary(std::int64_t n, std::int64_t side, std::uint64_t seed) {
  LinearBinary lb;
  const std::int64_t d = side * side;
  lb.model = std::make_shared<LinearModel>(d, 2, seed);
  torch::NoGradGuard no_grad;
  lb.w = lb.model->weight[1] - lb.model->weight[0];
  lb.model->bias.zero_();
  lb.model->bias[1].fill_(-(lb.w * 0.5).sum().item<double>());
  auto gen = medadv::compat::cpu_generator(seed + 1);
  lb.images = 0.5 + 0.05 * (torch::rand({n, 1, side, side}, gen) * 2 - 1);
  lb.labels = predictions(*lb.model, lb.images);
  lb.h = lb.images.flatten(1).matmul(lb.w) + (lb.model->bias[1] - lb.model->bias[0]);
  return lb;
}

}  // namespace

// ---- Schemas --------------------------------------------------------------------

TEST(MarginAttacks, SchemasDefaultsAndRanges) {
  medadv::testing::TestContext ctx;
  // cw-linf: the survey protocol, 30 steps of 0.0015 (eps <= 2/255) or 0.003.
  const auto cw = params_of<m::CwLinf>("cw-linf");
  EXPECT_NEAR(cw.get_float("epsilon"), 8.0 / 255, 1e-12);
  EXPECT_EQ(cw.get_int("steps"), 30);
  EXPECT_TRUE(cw.get_bool("random_start"));
  EXPECT_EQ(cw.get_int("restarts"), 1);
  EXPECT_NEAR(m::CwLinf(cw, ctx).config().step, 0.003, 1e-12);
  EXPECT_NEAR(m::CwLinf(params_of<m::CwLinf>("cw-linf", {{"epsilon", "2/255"}}), ctx).config().step, 0.0015, 1e-12);
  EXPECT_NEAR(m::CwLinf(params_of<m::CwLinf>("cw-linf", {{"epsilon", "1/255"}}), ctx).config().step, 0.0015, 1e-12);
  EXPECT_NEAR(m::CwLinf(params_of<m::CwLinf>("cw-linf", {{"step", "1/255"}}), ctx).config().step, 1.0 / 255, 1e-12);
  EXPECT_THROW(params_of<m::CwLinf>("cw-linf", {{"epsilon", 2}}), medadv::ValidationError);
  EXPECT_THROW(params_of<m::CwLinf>("cw-linf", {{"steps", 0}}), medadv::ValidationError);

  const auto l2 = params_of<m::CwL2>("cw-l2");
  EXPECT_EQ(l2.get_int("searches"), 5);
  EXPECT_NEAR(l2.get_float("initial_c"), 1e-2, 1e-15);
  EXPECT_EQ(l2.get_int("steps"), 100);
  EXPECT_NEAR(l2.get_float("learning_rate"), 0.01, 1e-15);
  EXPECT_THROW(params_of<m::CwL2>("cw-l2", {{"initial_c", 0.0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<m::CwL2>("cw-l2", {{"searches", 0}}), medadv::ValidationError);

  const auto df = params_of<m::DeepFool>("deepfool");
  EXPECT_EQ(df.get_string("norm"), "l2");
  EXPECT_EQ(df.get_int("candidates"), 10);
  EXPECT_NEAR(df.get_float("overshoot"), 0.02, 1e-15);
  EXPECT_EQ(df.get_int("steps"), 50);
  EXPECT_THROW(params_of<m::DeepFool>("deepfool", {{"candidates", 1}}), medadv::ValidationError);
  EXPECT_THROW(params_of<m::DeepFool>("deepfool", {{"overshoot", -0.1}}), medadv::ValidationError);

  const auto ap = params_of<m::Apgd>("apgd");
  EXPECT_NEAR(ap.get_float("epsilon"), 8.0 / 255, 1e-12);
  EXPECT_EQ(ap.get_string("norm"), "linf");
  EXPECT_EQ(ap.get_int("steps"), 100);
  EXPECT_NEAR(ap.get_float("initial_step"), 2.0, 1e-15);
  EXPECT_NEAR(ap.get_float("momentum"), 0.75, 1e-15);
  EXPECT_NEAR(ap.get_float("rho"), 0.75, 1e-15);
  EXPECT_TRUE(ap.get_bool("random_start"));
  EXPECT_EQ(ap.get_int("restarts"), 1);
  EXPECT_THROW(params_of<m::Apgd>("apgd", {{"momentum", 1.5}}), medadv::ValidationError);
  EXPECT_THROW(params_of<m::Apgd>("apgd", {{"norm", "l1"}}), medadv::ValidationError);
  EXPECT_THROW(params_of<m::Apgd>("apgd", {{"epsilon", 1.5}}), medadv::ValidationError);
}

// ---- APGD's checkpoints ---------------------------------------------------------------

TEST(MarginAttacks, ApgdCheckpointsFollowThePaper) {
  // By hand: p = 0, .22, .41 (.22 + .19), .57 (+ .16), .70 (+ .13), .80 (+ .10), .87 (+ .07),
  // .93 (+ .06), .99 (+ .06), then 1.05 > 1; w_j = ceil(p_j * 100).
  EXPECT_EQ(m::apgd_checkpoints(100), (std::vector<std::int64_t>{0, 22, 41, 57, 70, 80, 87, 93, 99}));
  // N = 10: ceil(2.2, 4.1, 5.7, 7.0, 8.0, 8.7, 9.3, 9.9) without repeats.
  EXPECT_EQ(m::apgd_checkpoints(10), (std::vector<std::int64_t>{0, 3, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(m::apgd_checkpoints(1), (std::vector<std::int64_t>{0, 1}));
}

// ---- Closed forms on linear models ----------------------------------------------------

TEST(MarginAttacks, DeepFoolOnALinearBinaryModelIsTheOvershotDistanceToTheHyperplane) {
  const LinearBinary lb = linear_binary(8, 4, 21);
  AttackBatch batch{lb.images, lb.labels, {}};
  const double overshoot = 0.02;
  const auto x = lb.images.flatten(1);
  const auto w = lb.w.unsqueeze(0);

  // L2: x* = x - h(x) w / ||w||^2 is the nearest point of the hyperplane; DeepFool steps
  // (1 + overshoot) times as far, in one iteration.
  const auto r2 = run_attack<m::DeepFool>("deepfool", {}, lb.model, 2, batch);
  expect_well_formed(r2, batch);
  const auto l2_distance = lb.h.abs() / lb.w.norm();
  EXPECT_TRUE(torch::allclose(medadv::metrics::l2_norm(batch.images, r2.adversarial), l2_distance * (1 + overshoot),
                              1e-4, 1e-6));
  const auto expected_l2 = x - (1 + overshoot) * (lb.h / lb.w.pow(2).sum()).unsqueeze(1) * w;
  EXPECT_TRUE(torch::allclose(r2.adversarial.flatten(1), expected_l2, 1e-5, 1e-6));
  EXPECT_EQ(count(r2.success.logical_not()), 0);
  EXPECT_EQ(count(r2.iterations != 1), 0);

  // L-inf: the nearest point in L-inf is x - h(x) / ||w||_1 sign(w).
  const auto rinf = run_attack<m::DeepFool>("deepfool", {{"norm", "linf"}}, lb.model, 2, batch);
  const auto linf_distance = lb.h.abs() / lb.w.abs().sum();
  EXPECT_TRUE(torch::allclose(medadv::metrics::linf_norm(batch.images, rinf.adversarial),
                              linf_distance * (1 + overshoot), 1e-4, 1e-6));
  const auto expected_linf = x - (1 + overshoot) * (lb.h / lb.w.abs().sum()).unsqueeze(1) * w.sign();
  EXPECT_TRUE(torch::allclose(rinf.adversarial.flatten(1), expected_linf, 1e-5, 1e-6));
  EXPECT_EQ(count(rinf.success.logical_not()), 0);
}

TEST(MarginAttacks, CwL2OnALinearBinaryModelApproachesTheDistanceToTheHyperplane) {
  const LinearBinary lb = linear_binary(8, 4, 22);
  AttackBatch batch{lb.images, lb.labels, {}};
  const auto r = run_attack<m::CwL2>("cw-l2", {}, lb.model, 2, batch);
  expect_well_formed(r, batch);
  const auto distance = lb.h.abs() / lb.w.norm();
  const auto found = medadv::metrics::l2_norm(batch.images, r.adversarial);
  std::cout << "[margin] cw-l2 on a linear binary model: L2 found / distance to the hyperplane "
            << found / distance << "\n";
  EXPECT_EQ(count(r.success.logical_not()), 0);
  // No perturbation that changes the class is shorter than the distance to the hyperplane.
  EXPECT_EQ(count(found < distance - 1e-5), 0);
  // The binary search brings it close to that minimum.
  EXPECT_EQ(count(found > distance * 1.05), 0);
  // Success is the class it reaches.
  EXPECT_TRUE(torch::equal(r.success, predictions(*lb.model, r.adversarial).ne(lb.labels)));
}

TEST(MarginAttacks, FirstStepsOnALinearModelAreTheSignedGradient) {
  const LinearBinary lb = linear_binary(6, 4, 23);
  AttackBatch batch{lb.images, lb.labels, {}};
  const double eps = 4.0 / 255;
  torch::Tensor margin_sign, ce_sign;
  {
    torch::NoGradGuard no_grad;
    // Untargeted CW (kappa 0, every sample correctly classified): ascend -(z_y - z_other),
    // whose gradient is -(W_y - W_other) = -(2y - 1) w.
    const auto sign_y = (lb.labels.to(torch::kFloat) * 2 - 1).unsqueeze(1);
    margin_sign = (-sign_y * lb.w.unsqueeze(0)).sign().view_as(lb.images);
    // Cross-entropy: (softmax(z) - onehot(y)) W.
    const auto z = lb.model->forward(lb.images);
    ce_sign = (z.softmax(1) - torch::one_hot(lb.labels, 2).to(torch::kFloat))
                  .matmul(lb.model->weight.detach())
                  .sign()
                  .view_as(lb.images);
  }
  // cw-linf, one step of 1/255 from the clean image.
  const auto cw = run_attack<m::CwLinf>(
      "cw-linf", {{"epsilon", "4/255"}, {"step", "1/255"}, {"steps", 1}, {"random_start", false}}, lb.model, 2, batch);
  expect_well_formed(cw, batch);
  EXPECT_TRUE(torch::allclose(cw.adversarial, lb.images + margin_sign / 255, 0.0, 1e-6));
  // APGD's first step: 2 eps along sign(grad) without momentum, projected back to eps.
  const auto ap = run_attack<m::Apgd>("apgd", {{"epsilon", "4/255"}, {"steps", 1}, {"random_start", false}},
                                      lb.model, 2, batch);
  expect_well_formed(ap, batch);
  EXPECT_TRUE(torch::allclose(ap.adversarial, lb.images + eps * ce_sign, 0.0, 1e-6));
  EXPECT_EQ(count(ap.iterations != 1), 0);
}

// ---- Budgets ------------------------------------------------------------------------

TEST(MarginAttacks, OutputsStayInTheImageRangeAndTheBall) {
  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 4, 1);
  model->eval();
  std::vector<torch::Tensor> weights_before;
  for (const auto& p : model->parameters()) weights_before.push_back(p.detach().clone());

  const auto x = medadv::testing::random_images(8, 3, 16, 13);
  AttackBatch batch{x, torch::arange(8) % 4, {}};
  AttackBatch targeted{x, torch::arange(8) % 4, (torch::arange(8) + 1) % 4};
  const Objective dlr(BaseLoss::DLR, false), dlr_targeted(BaseLoss::DLR, true), cw_kappa(BaseLoss::CWMargin, false, 5.0);
  for (const char* eps_text : {"1/255", "4/255", "8/255", "0.5"}) {
    const double eps = medadv::parse_epsilon(std::string(eps_text));
    SCOPED_TRACE(eps_text);
    const auto in_linf_ball = [&](const AttackResult& r) {
      expect_well_formed(r, batch);
      EXPECT_LE(medadv::metrics::linf_norm(x, r.adversarial).max().item<double>(), eps + 1e-6);
    };
    const auto in_l2_ball = [&](const AttackResult& r) {
      expect_well_formed(r, batch);
      EXPECT_LE(medadv::metrics::l2_norm(x, r.adversarial).max().item<double>(), eps + 1e-6);
    };
    const Value::Table linf{{"epsilon", eps_text}, {"steps", 5}, {"restarts", 2}};
    const Value::Table l2{{"epsilon", eps_text}, {"steps", 5}, {"norm", "l2"}};
    in_linf_ball(run_attack<m::CwLinf>("cw-linf", linf, model, 4, batch));
    in_linf_ball(run_attack<m::CwLinf>("cw-linf", linf, model, 4, batch, 0, cw_kappa));
    in_linf_ball(run_attack<m::CwLinf>("cw-linf", linf, model, 4, targeted, 0, Objective(BaseLoss::CrossEntropy, true)));
    in_linf_ball(run_attack<m::Apgd>("apgd", linf, model, 4, batch));
    in_linf_ball(run_attack<m::Apgd>("apgd", linf, model, 4, batch, 0, dlr));
    in_linf_ball(run_attack<m::Apgd>("apgd", linf, model, 4, targeted, 0, dlr_targeted));
    in_l2_ball(run_attack<m::Apgd>("apgd", l2, model, 4, batch));
  }
  // The minimal-norm attacks are unbounded: only the image range applies.
  expect_well_formed(run_attack<m::CwL2>("cw-l2", {{"searches", 2}, {"steps", 10}}, model, 4, batch), batch);
  expect_well_formed(run_attack<m::CwL2>("cw-l2", {{"searches", 2}, {"steps", 10}}, model, 4, targeted, 0,
                                         Objective(BaseLoss::CrossEntropy, true)),
                     batch);
  expect_well_formed(run_attack<m::DeepFool>("deepfool", {{"steps", 5}}, model, 4, batch), batch);
  expect_well_formed(run_attack<m::DeepFool>("deepfool", {{"steps", 5}, {"norm", "linf"}}, model, 4, batch), batch);

  // The attacks took gradients with respect to the input only.
  const auto after = model->parameters();
  ASSERT_EQ(after.size(), weights_before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(torch::equal(after[i], weights_before[i])) << "parameter " << i;
    EXPECT_FALSE(after[i].grad().defined()) << "parameter " << i;
  }
}

// ---- Strength on the trained fundus classifier -----------------------------------------

// The trained fundus classifier, the first `n` images of its test split (all by default),
// and the untargeted success rate of an attack on them.
struct FundusVictim {
  explicit FundusVictim(std::int64_t n = -1)
      : images(n < 0 ? v.test_images : v.test_images.slice(0, 0, n)),
        labels(n < 0 ? v.test_labels : v.test_labels.slice(0, 0, n)) {}

  const medadv::testing::TrainedVictim& v = medadv::testing::fundus_small_cnn();
  torch::Tensor images, labels;
  torch::Tensor clean = predictions(*v.module, images);
  AttackBatch batch{images, labels, {}};

  std::int64_t correct() const { return count(clean.eq(labels)); }
  double rate(const AttackResult& r) const {
    return medadv::metrics::attack_success_rate_untargeted(clean, predictions(*v.module, r.adversarial), labels);
  }
};

TEST(MarginAttacks, ApgdIsAtLeastAsStrongAsPgdOnTheFundusClassifier) {
  const FundusVictim f;
  const auto& v = f.v;
  const auto& images = f.images;
  const auto& batch = f.batch;
  const std::int64_t n_correct = f.correct();
  ASSERT_GE(n_correct, images.size(0) * 9 / 10);
  const auto rate = [&](const AttackResult& r) { return f.rate(r); };
  namespace g = medadv::plugins::gradient;

  // APGD against PGD: cross-entropy, 8/255, the same 50 iterations and one start each.
  const auto apgd = run_on<m::Apgd>(v, "apgd", {{"epsilon", "8/255"}, {"steps", 50}}, batch);
  const auto pgd = run_on<g::Pgd>(v, "pgd", {{"epsilon", "8/255"}, {"step", "2/255"}, {"steps", 50}}, batch);
  // A budget where they can differ (reported, with the same rule).
  const auto apgd_small = run_on<m::Apgd>(v, "apgd", {{"epsilon", "1/255"}, {"steps", 50}}, batch);
  const auto pgd_small =
      run_on<g::Pgd>(v, "pgd", {{"epsilon", "1/255"}, {"step", "0.25/255"}, {"steps", 50}}, batch);
  std::cout << "[margin] fundus small-cnn, " << n_correct << "/" << images.size(0)
            << " correct: success at 8/255 apgd " << rate(apgd) << ", pgd " << rate(pgd) << "; at 1/255 apgd "
            << rate(apgd_small) << ", pgd " << rate(pgd_small) << "\n";
  EXPECT_LE(medadv::metrics::linf_norm(images, apgd.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
  EXPECT_GE(rate(apgd), rate(pgd));
  EXPECT_GE(rate(apgd_small), rate(pgd_small));
}

TEST(MarginAttacks, CwLinfFoolsTheFundusClassifierAtTheSurveyBudget) {
  const FundusVictim f;
  const auto& v = f.v;
  const auto& images = f.images;
  const auto& batch = f.batch;
  const auto rate = [&](const AttackResult& r) { return f.rate(r); };
  // cw-linf at 8/255 with the survey protocol (30 steps of 0.003).
  const auto cw_linf = run_on<m::CwLinf>(v, "cw-linf", {{"epsilon", "8/255"}}, batch);
  std::cout << "[margin] cw-linf 8/255 success " << rate(cw_linf) << "\n";
  EXPECT_LE(medadv::metrics::linf_norm(images, cw_linf.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
  EXPECT_GE(rate(cw_linf), 0.95);
}

TEST(MarginAttacks, MinimalNormAttacksFindSmallerL2ThanPgdOnTheFundusClassifier) {
  // 60 images: CW-L2 and DeepFool take about a thousand gradient passes each.
  const FundusVictim f(60);
  const auto& v = f.v;
  const auto& images = f.images;
  const auto& labels = f.labels;
  const auto& clean = f.clean;
  const auto& batch = f.batch;
  const auto rate = [&](const AttackResult& r) { return f.rate(r); };
  namespace g = medadv::plugins::gradient;
  // The minimal-norm attacks against PGD-L2: about its success, with smaller mean L2
  // over the samples both fool.
  const auto pgd_l2 = run_on<g::Pgd>(v, "pgd", {{"epsilon", 1.0}, {"step", 0.1}, {"steps", 20}, {"norm", "l2"}}, batch);
  const auto cw_l2 = run_on<m::CwL2>(v, "cw-l2", {}, batch);
  const auto deepfool = run_on<m::DeepFool>(v, "deepfool", {}, batch);
  const auto fooled = [&](const AttackResult& r) {
    return medadv::metrics::per_sample_success_untargeted(clean, predictions(*v.module, r.adversarial), labels);
  };
  const auto pgd_l2_norms = medadv::metrics::l2_norm(images, pgd_l2.adversarial);
  for (const auto& [name, r] : {std::pair<std::string, const AttackResult&>{"cw-l2", cw_l2},
                                std::pair<std::string, const AttackResult&>{"deepfool", deepfool}}) {
    const auto both = fooled(r).logical_and(fooled(pgd_l2));
    ASSERT_GT(count(both), 0) << name;
    const auto norms = medadv::metrics::l2_norm(images, r.adversarial);
    const double mean = norms.index({both}).mean().item<double>();
    const double pgd_mean = pgd_l2_norms.index({both}).mean().item<double>();
    std::cout << "[margin] " << name << " success " << rate(r) << " (pgd-l2 eps 1: " << rate(pgd_l2)
              << "), mean L2 over " << count(both) << " samples both fool: " << mean << " (pgd-l2 " << pgd_mean
              << ")\n";
    // About PGD-L2's success (DeepFool, linearising, may stall on a sample at the [0,1] box).
    EXPECT_GE(rate(r), rate(pgd_l2) - 0.05) << name;
    EXPECT_LT(mean, pgd_mean) << name;
    // Success as recorded is the class the victim now predicts.
    EXPECT_EQ(count(r.success.logical_and(predictions(*v.module, r.adversarial).eq(labels))), 0) << name;
  }
  EXPECT_LT(medadv::metrics::l2_norm(images, cw_l2.adversarial).index({fooled(cw_l2).logical_and(fooled(deepfool))})
                .mean()
                .item<double>(),
            medadv::metrics::l2_norm(images, deepfool.adversarial)
                    .index({fooled(cw_l2).logical_and(fooled(deepfool))})
                    .mean()
                    .item<double>() *
                1.5);
}

// ---- APGD on a segmentation model ------------------------------------------------------

TEST(MarginAttacks, ApgdAttacksTheXrayUnetThroughTheSegmentationLoss) {
  const auto& v = medadv::testing::xray_unet();
  const auto truth = v.test_labels.round().to(torch::kLong);
  const auto clean = v.predicted_masks(v.test_images);
  const double clean_dice = medadv::metrics::dice(clean, truth);
  AttackBatch batch{v.test_images, v.test_labels, {}};
  const Objective dice_loss(BaseLoss::SoftDice, false);
  // The phantom lung fields are large, high-contrast structures and this U-Net is robust
  // at 8/255 (tests/plugins/test_segmentation_attacks.cpp): APGD is checked against PGD
  // there and to break the segmentation at 64/255.
  const auto dice_after = [&](const AttackResult& r) {
    return medadv::metrics::dice(v.predicted_masks(r.adversarial), truth);
  };
  const auto apgd = run_on<m::Apgd>(v, "apgd", {{"epsilon", "8/255"}, {"steps", 10}}, batch, dice_loss);
  const auto pgd = run_on<medadv::plugins::gradient::Pgd>(
      v, "pgd", {{"epsilon", "8/255"}, {"step", "2/255"}, {"steps", 10}}, batch, dice_loss);
  const auto apgd_large = run_on<m::Apgd>(v, "apgd", {{"epsilon", "64/255"}, {"steps", 10}}, batch, dice_loss);
  expect_well_formed(apgd, batch);
  EXPECT_LE(medadv::metrics::linf_norm(v.test_images, apgd.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
  const double apgd_dice = dice_after(apgd), pgd_dice = dice_after(pgd), large_dice = dice_after(apgd_large);
  std::cout << "[margin] xray unet, soft-Dice x10: Dice " << clean_dice << " -> at 8/255 apgd " << apgd_dice
            << ", pgd " << pgd_dice << "; at 64/255 apgd " << large_dice << "\n";
  EXPECT_LE(apgd_dice, clean_dice - 0.05);
  EXPECT_LE(apgd_dice, pgd_dice + 0.01) << "APGD is at least about as strong as PGD";
  EXPECT_LE(large_dice, 0.5 * clean_dice);
  // Success is the objective's (Dice below 0.5 against the truth).
  EXPECT_TRUE(torch::equal(apgd_large.success.cpu(),
                           medadv::segmentation_success(v.predicted_masks(apgd_large.adversarial), truth, {}).cpu()));
  EXPECT_GT(count(apgd_large.success), 0);
}

// ---- Determinism ------------------------------------------------------------------------

TEST(MarginAttacks, SameSeedSameOutput) {
  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 2);
  model->eval();
  AttackBatch batch{medadv::testing::random_images(6, 3, 16, 14), torch::arange(6) % 3, {}};
  const Value::Table p{{"steps", 4}};
  const auto a = run_attack<m::Apgd>("apgd", p, model, 3, batch, 42);
  EXPECT_TRUE(torch::equal(a.adversarial, run_attack<m::Apgd>("apgd", p, model, 3, batch, 42).adversarial));
  EXPECT_FALSE(torch::equal(a.adversarial, run_attack<m::Apgd>("apgd", p, model, 3, batch, 43).adversarial));
  const auto c = run_attack<m::CwLinf>("cw-linf", p, model, 3, batch, 42);
  EXPECT_TRUE(torch::equal(c.adversarial, run_attack<m::CwLinf>("cw-linf", p, model, 3, batch, 42).adversarial));
  EXPECT_FALSE(torch::equal(c.adversarial, run_attack<m::CwLinf>("cw-linf", p, model, 3, batch, 43).adversarial));
  // The minimal-norm attacks draw nothing at random.
  const Value::Table short_cw{{"searches", 2}, {"steps", 10}};
  EXPECT_TRUE(torch::equal(run_attack<m::CwL2>("cw-l2", short_cw, model, 3, batch, 1).adversarial,
                           run_attack<m::CwL2>("cw-l2", short_cw, model, 3, batch, 2).adversarial));
  EXPECT_TRUE(torch::equal(run_attack<m::DeepFool>("deepfool", p, model, 3, batch, 1).adversarial,
                           run_attack<m::DeepFool>("deepfool", p, model, 3, batch, 2).adversarial));
  // Calling under NoGradGuard (as a host evaluating might) changes nothing.
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(a.adversarial, run_attack<m::Apgd>("apgd", p, model, 3, batch, 42).adversarial));
  EXPECT_TRUE(torch::equal(run_attack<m::CwL2>("cw-l2", short_cw, model, 3, batch, 1).adversarial,
                           run_attack<m::CwL2>("cw-l2", short_cw, model, 3, batch, 1).adversarial));
  run_attack<m::DeepFool>("deepfool", p, model, 3, batch);
}

// ---- Refusals -----------------------------------------------------------------------

TEST(MarginAttacks, RefusesWhatItCannotAttack) {
  medadv::testing::TestContext ctx;
  medadv::ModelSpec segmentation;
  segmentation.task = medadv::Task::Segmentation;
  segmentation.num_classes = 1;
  medadv::ModelSpec classifier;
  const m::CwLinf cw_linf(params_of<m::CwLinf>("cw-linf"), ctx);
  const m::CwL2 cw_l2(params_of<m::CwL2>("cw-l2"), ctx);
  m::DeepFool deepfool(params_of<m::DeepFool>("deepfool"), ctx);
  m::Apgd apgd(params_of<m::Apgd>("apgd"), ctx);
  for (const medadv::Attack* a : std::vector<const medadv::Attack*>{&cw_linf, &cw_l2, &deepfool}) {
    EXPECT_THROW(a->check_task(segmentation), medadv::InvalidInput);
    EXPECT_NO_THROW(a->check_task(classifier));
  }
  // APGD's step rule is loss-agnostic: it attacks segmentation models through their losses.
  EXPECT_NO_THROW(apgd.check_task(segmentation));
  try {
    cw_l2.check_task(segmentation);
  } catch (const medadv::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("classifiers only"), std::string::npos) << e.what();
  }

  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 5);
  AttackBatch batch{medadv::testing::random_images(2, 3, 16), torch::tensor({0, 1}), torch::tensor({1, 2})};
  // DeepFool is untargeted.
  try {
    attack_with(deepfool, model, 3, batch, Objective(BaseLoss::CrossEntropy, true), ctx);
    ADD_FAILURE() << "deepfool accepted a targeted objective";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("untargeted"), std::string::npos) << e.what();
  }
  // DLR on a binary classifier (the host refuses it before any work; the loss refuses too).
  auto binary = std::make_shared<medadv::testing::TinyClassifier>(3, 2, 5);
  EXPECT_THROW(attack_with(apgd, binary, 2, batch, Objective(BaseLoss::DLR, false), ctx), medadv::InvalidInput);
  // No gradients in a black-box capability.
  Capability black = Capability::black_box(nullptr);
  EXPECT_THROW(apgd.run(batch, black, Objective(BaseLoss::CrossEntropy, false), ctx), medadv::CapabilityError);
}
