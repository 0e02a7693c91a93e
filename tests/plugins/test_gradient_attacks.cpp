// The gradient attack family (fgsm, pgd): closed forms on a linear model, projection,
// budgets, strength on a trained classifier, determinism, restarts, and that the
// model's weights are left alone.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include <medadv/metrics.h>
#include <medadv/testing.h>

#include "attacks/gradient/fgsm.h"
#include "attacks/gradient/pgd.h"
#include "attacks/margin/cw_linf.h"
#include "attack_test_kit.h"

namespace {

namespace g = medadv::plugins::gradient;
using namespace medadv::attack_testing;

// ---- A classifier trained on a synthetic separable task, shared by the strength tests.
//
// 1x16x16 images of constant level 0.5 -/+ m (dark = class 0, bright = class 1) plus
// per-pixel uniform noise in [-0.05, 0.05], with the class margin m uniform in
// [0.02, 0.06]. Shifting every pixel by eps = 16/255 (0.063) moves any image across the
// mean-intensity boundary, so eps = 16/255 is the budget at which a strong attack should
// flip nearly every correctly classified image, while the clean task is still separable.
constexpr double kStrengthEps = 16.0 / 255.0;

struct Trained {
  std::shared_ptr<medadv::testing::TinyClassifier> model;
  torch::Tensor images, labels;
  double accuracy = 0.0;
  double seconds = 0.0;
};

torch::Tensor intensity_images(const torch::Tensor& labels, std::uint64_t seed) {
  auto gen = medadv::compat::cpu_generator(seed);
  const std::int64_t n = labels.size(0);
  const auto margin = 0.02 + 0.04 * torch::rand({n, 1, 1, 1}, gen);
  const auto sign = labels.to(torch::kFloat).mul(2).sub(1).view({n, 1, 1, 1});
  const auto noise = (torch::rand({n, 1, 16, 16}, gen) * 2 - 1) * 0.05;
  return (0.5 + sign * margin + noise).clamp(0, 1);
}

const Trained& trained_classifier() {
  static const Trained trained = [] {
    Trained t;
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t n = 256;
    t.labels = torch::arange(n) % 2;
    t.images = intensity_images(t.labels, 31);
    t.model = std::make_shared<medadv::testing::TinyClassifier>(1, 2, 4);
    torch::optim::Adam opt(t.model->parameters(), torch::optim::AdamOptions(0.01));
    auto gen = medadv::compat::cpu_generator(32);
    t.model->train();
    for (int step = 0; step < 300; ++step) {
      const auto idx = torch::randint(0, n, {64}, gen);
      const auto loss = torch::nn::functional::cross_entropy(t.model->forward(t.images.index_select(0, idx)),
                                                             t.labels.index_select(0, idx));
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    t.model->eval();
    // Attacks start from parameters without gradients, as the host hands them over.
    for (auto& p : t.model->parameters()) {
      p.mutable_grad() = torch::Tensor();
      p.set_requires_grad(false);
    }
    torch::NoGradGuard no_grad;
    t.accuracy = t.model->forward(t.images).argmax(1).eq(t.labels).to(torch::kFloat).mean().item<double>();
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "[gradient] TinyClassifier train accuracy " << t.accuracy << " (" << t.seconds << " s)\n";
    return t;
  }();
  return trained;
}

}  // namespace

// ---- Schemas --------------------------------------------------------------------

TEST(GradientAttacks, SchemasDefaultsAndRanges) {
  const auto f = params_of<g::Fgsm>("fgsm");
  EXPECT_NEAR(f.get_float("epsilon"), 8.0 / 255, 1e-12);
  EXPECT_EQ(f.text_of("epsilon"), "8/255");
  EXPECT_THROW(params_of<g::Fgsm>("fgsm", {{"epsilon", "2"}}), medadv::ValidationError);

  const auto p = params_of<g::Pgd>("pgd");
  EXPECT_NEAR(p.get_float("epsilon"), 8.0 / 255, 1e-12);
  EXPECT_NEAR(p.get_float("step"), 2.0 / 255, 1e-12);
  EXPECT_EQ(p.get_int("steps"), 10);
  EXPECT_EQ(p.get_string("norm"), "linf");
  EXPECT_TRUE(p.get_bool("random_start"));
  EXPECT_EQ(p.get_int("restarts"), 1);
  EXPECT_FALSE(p.get_bool("early_stop"));
  EXPECT_THROW(params_of<g::Pgd>("pgd", {{"step", "-1/255"}}), medadv::ValidationError);
  EXPECT_THROW(params_of<g::Pgd>("pgd", {{"steps", 0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<g::Pgd>("pgd", {{"restarts", 0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<g::Pgd>("pgd", {{"norm", "l3"}}), medadv::ValidationError);
  EXPECT_THROW(params_of<g::Pgd>("pgd", {{"epsilon", "-1/255"}}), medadv::ValidationError);

  medadv::testing::TestContext ctx;
  // step 0 stands for epsilon / 10 (the classic BIM alpha).
  EXPECT_NEAR(g::Pgd(params_of<g::Pgd>("pgd", {{"step", 0}}), ctx).settings().iter.step, 0.8 / 255, 1e-12);
  EXPECT_THROW(params_of<g::Pgd>("pgd", {{"epsilon", 1.5}}), medadv::ValidationError);
  EXPECT_NO_THROW(g::Pgd(params_of<g::Pgd>("pgd", {{"epsilon", 1.5}, {"norm", "l2"}}), ctx));
}

// ---- Closed forms on a linear model -------------------------------------------------

TEST(GradientAttacks, FgsmOnALinearModelEqualsTheClosedForm) {
  const std::int64_t b = 6, c = 1, s = 5, d = c * s * s;
  auto model = std::make_shared<LinearModel>(d, 2, 3);
  const auto x = medadv::testing::random_images(b, c, s, 4);
  const auto y = torch::tensor({0, 1, 0, 1, 1, 0});
  const double eps = 4.0 / 255;

  // By hand: d CE(Wx + b, y) / dx = (softmax(z) - onehot(y)) W.
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    const auto W = model->weight.detach();
    const auto z = x.flatten(1).matmul(W.t()) + model->bias.detach();
    const auto p = z.softmax(1);
    const auto grad = (p - torch::one_hot(y, 2).to(torch::kFloat)).matmul(W).view_as(x);
    expected = (x + eps * grad.sign()).clamp(0, 1);
  }
  AttackBatch batch{x, y, {}};
  const auto r = run_attack<g::Fgsm>("fgsm", {{"epsilon", "4/255"}}, model, 2, batch);
  expect_well_formed(r, batch);
  EXPECT_TRUE(torch::allclose(r.adversarial, expected, 0.0, 1e-6));
  EXPECT_EQ(count(r.iterations != 1), 0);

  // Targeted: maximise -CE(z, t), so the gradient is -(softmax(z) - onehot(t)) W.
  const auto t = 1 - y;
  {
    torch::NoGradGuard no_grad;
    const auto W = model->weight.detach();
    const auto z = x.flatten(1).matmul(W.t()) + model->bias.detach();
    const auto grad = -(z.softmax(1) - torch::one_hot(t, 2).to(torch::kFloat)).matmul(W).view_as(x);
    expected = (x + eps * grad.sign()).clamp(0, 1);
  }
  AttackBatch targeted_batch{x, y, t};
  const auto rt = run_attack<g::Fgsm>("fgsm", {{"epsilon", "4/255"}}, model, 2, targeted_batch, 0,
                                      Objective(BaseLoss::CrossEntropy, true));
  EXPECT_TRUE(torch::allclose(rt.adversarial, expected, 0.0, 1e-6));

  // BIM with one step of size epsilon is FGSM.
  const auto bim = run_attack<g::Pgd>(
      "pgd", {{"epsilon", "4/255"}, {"step", "4/255"}, {"steps", 1}, {"random_start", false}}, model, 2, batch);
  EXPECT_TRUE(torch::allclose(bim.adversarial, r.adversarial, 0.0, 1e-6));
}

// The step schedule (step_decay, decay_at): on a binary linear model the sign of the input
// gradient never changes, so with steps inside the ball and away from 0 and 1 every pixel
// moves by the sum of the scheduled steps: 4 x 0.01 + 4 x 0.005 + 2 x 0.0025 = 0.065.
TEST(GradientAttacks, StepScheduleDecaysTheStepEveryDecayAtSteps) {
  const std::int64_t b = 4, c = 1, s = 5, d = c * s * s;
  auto model = std::make_shared<LinearModel>(d, 2, 5);
  const auto x = torch::full({b, c, s, s}, 0.5);
  const auto y = torch::tensor({0, 1, 0, 1});
  const auto w = model->weight.detach();
  const auto away = torch::stack({(w[1] - w[0]).sign(), (w[0] - w[1]).sign()}).index_select(0, y).view_as(x);
  AttackBatch batch{x, y, {}};
  const Value::Table settings = {{"epsilon", "0.2"}, {"step", "0.01"}, {"steps", 10}, {"random_start", false}};
  auto with = [&](Value::Table extra) {
    Value::Table all = settings;
    all.insert(all.end(), extra.begin(), extra.end());
    return run_attack<g::Pgd>("pgd", all, model, 2, batch).adversarial;
  };
  EXPECT_TRUE(torch::allclose(with({{"step_decay", 0.5}, {"decay_at", 4}}), x + 0.065 * away, 0.0, 1e-6));
  EXPECT_TRUE(torch::allclose(with({}), x + 0.1 * away, 0.0, 1e-6));
  // cw-linf takes the same schedule (kappa large enough that the margin never saturates).
  const auto cw = run_attack<medadv::plugins::margin::CwLinf>(
      "cw-linf", {{"epsilon", "0.2"}, {"step", "0.01"}, {"steps", 10}, {"random_start", false}, {"step_decay", 0.5},
                  {"decay_at", 4}},
      model, 2, batch, 0, Objective(BaseLoss::CWMargin, false, 1e6));
  EXPECT_TRUE(torch::allclose(cw.adversarial, x + 0.065 * away, 0.0, 1e-6));
}

TEST(GradientAttacks, L2StepIsTheNormalisedGradient) {
  // One L2 step without random start on the linear model: x + step * g / ||g||_2.
  const std::int64_t b = 4, d = 16;
  auto model = std::make_shared<LinearModel>(d, 2, 8);
  const auto x = 0.25 + 0.5 * medadv::testing::random_images(b, 1, 4, 9);  // away from the [0,1] edges
  const auto y = torch::tensor({0, 1, 1, 0});
  const double step = 0.05;
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    const auto W = model->weight.detach();
    const auto z = x.flatten(1).matmul(W.t()) + model->bias.detach();
    const auto grad = (z.softmax(1) - torch::one_hot(y, 2).to(torch::kFloat)).matmul(W);
    expected = (x.flatten(1) + step * grad / grad.norm(2, 1, true)).view_as(x);
  }
  const auto r = run_attack<g::Pgd>(
      "pgd", {{"epsilon", 1.0}, {"step", step}, {"steps", 1}, {"norm", "l2"}, {"random_start", false}}, model, 2,
      AttackBatch{x, y, {}});
  EXPECT_TRUE(torch::allclose(r.adversarial, expected, 0.0, 1e-6));
}

// ---- Projection ---------------------------------------------------------------------

TEST(GradientAttacks, ProjectionEqualsTheDirectComputation) {
  const auto clean = medadv::testing::random_images(5, 3, 8, 10);
  auto gen = medadv::compat::cpu_generator(11);
  auto delta = torch::randn({5, 3, 8, 8}, gen) * 0.1;
  delta[3].mul_(1e-3);  // well inside any ball used below
  delta[4].zero_();
  for (double eps : {1.0 / 255, 8.0 / 255, 0.5}) {
    SCOPED_TRACE("eps " + std::to_string(eps));
    // L-inf: clamp(delta, -eps, eps), then clip x + delta to [0,1].
    const auto linf = medadv::perturbation::project_and_clip(clean + delta, clean, g::Norm::Linf, eps);
    EXPECT_TRUE(torch::allclose(linf, (clean + delta.clamp(-eps, eps)).clamp(0, 1), 0.0, 1e-7));
    EXPECT_TRUE(torch::equal(g::project_delta(delta, g::Norm::Linf, eps),
                             torch::max(torch::min(delta, torch::full_like(delta, eps)), torch::full_like(delta, -eps))));
    // L2: delta * min(1, eps / ||delta||), sample by sample.
    const auto l2 = g::project_delta(delta, g::Norm::L2, eps);
    for (std::int64_t i = 0; i < delta.size(0); ++i) {
      const double norm = delta[i].pow(2).sum().sqrt().item<double>();
      const double factor = norm > 0 ? std::min(1.0, eps / norm) : 1.0;
      EXPECT_TRUE(torch::allclose(l2[i], delta[i] * factor, 1e-6, 1e-9)) << "sample " << i;
    }
    const auto l2_clipped = medadv::perturbation::project_and_clip(clean + delta, clean, g::Norm::L2, eps);
    EXPECT_TRUE(torch::allclose(l2_clipped, (clean + l2).clamp(0, 1), 0.0, 1e-7));
    EXPECT_LE(medadv::metrics::l2_norm(clean, l2_clipped).max().item<double>(), eps + 1e-6);
  }
  EXPECT_TRUE(torch::equal(g::project_delta(delta[4].unsqueeze(0), g::Norm::L2, 0.1), delta[4].unsqueeze(0)));
}

TEST(GradientAttacks, RandomStartsLieInTheBall) {
  const auto clean = medadv::testing::random_images(16, 3, 8, 12);
  const double eps = 8.0 / 255;
  const auto linf = g::random_start(clean, g::Norm::Linf, eps, 1);
  EXPECT_LE(medadv::metrics::linf_norm(clean, linf).max().item<double>(), eps + 1e-6);
  EXPECT_GT(medadv::metrics::linf_norm(clean, linf).min().item<double>(), eps / 2);
  EXPECT_GE(linf.min().item<double>(), 0.0);
  EXPECT_LE(linf.max().item<double>(), 1.0);
  EXPECT_TRUE(torch::equal(linf, g::random_start(clean, g::Norm::Linf, eps, 1)));
  EXPECT_FALSE(torch::equal(linf, g::random_start(clean, g::Norm::Linf, eps, 2)));
  const double radius = 0.5;
  const auto l2 = g::random_start(clean, g::Norm::L2, radius, 1);
  EXPECT_LE(medadv::metrics::l2_norm(clean, l2).max().item<double>(), radius + 1e-6);
  EXPECT_GT(medadv::metrics::l2_norm(clean, l2).min().item<double>(), 0.0);
}

TEST(GradientAttacks, KeepBestPrefersSuccessThenObjective) {
  g::Outcome best{torch::zeros({4, 1, 1, 1}), torch::tensor({true, false, false, false}),
                  torch::tensor({1.0f, 1.0f, 1.0f, 1.0f}), torch::tensor({5, 5, 5, 5})};
  // Candidate for rows 0..3: success on 0 and 1, lower objective on 2, higher on 3.
  g::Outcome cand{torch::ones({4, 1, 1, 1}), torch::tensor({true, true, false, false}),
                  torch::tensor({0.0f, 0.0f, 0.5f, 2.0f}), torch::tensor({2, 3, 5, 5})};
  medadv::white_box::keep_best(best, cand);
  EXPECT_TRUE(torch::equal(best.adversarial.flatten(), torch::tensor({0.0f, 1.0f, 0.0f, 1.0f})));
  EXPECT_TRUE(torch::equal(best.success, torch::tensor({true, true, false, false})));
  EXPECT_TRUE(torch::equal(best.value, torch::tensor({1.0f, 0.0f, 1.0f, 2.0f})));
  EXPECT_TRUE(torch::equal(best.iterations, torch::tensor({7, 8, 10, 10})));
}

// ---- Budgets ------------------------------------------------------------------------

TEST(GradientAttacks, OutputsStayInTheImageRangeAndTheBall) {
  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 1);
  model->eval();
  const auto x = medadv::testing::random_images(8, 3, 16, 13);
  AttackBatch batch{x, torch::arange(8) % 3, {}};
  for (const char* eps_text : {"1/255", "4/255", "8/255"}) {
    const double eps = medadv::parse_epsilon(std::string(eps_text));
    SCOPED_TRACE(eps_text);
    const auto fgsm = run_attack<g::Fgsm>("fgsm", {{"epsilon", eps_text}}, model, 3, batch);
    const auto linf = run_attack<g::Pgd>("pgd", {{"epsilon", eps_text}, {"steps", 5}}, model, 3, batch);
    const auto l2 = run_attack<g::Pgd>("pgd", {{"epsilon", eps_text}, {"steps", 5}, {"norm", "l2"}}, model, 3, batch);
    for (const auto* r : {&fgsm, &linf, &l2}) {
      expect_well_formed(*r, batch);
      EXPECT_GE(r->adversarial.min().item<double>(), 0.0);
      EXPECT_LE(r->adversarial.max().item<double>(), 1.0);
    }
    EXPECT_LE(medadv::metrics::linf_norm(x, fgsm.adversarial).max().item<double>(), eps + 1e-6);
    EXPECT_LE(medadv::metrics::linf_norm(x, linf.adversarial).max().item<double>(), eps + 1e-6);
    EXPECT_LE(medadv::metrics::l2_norm(x, l2.adversarial).max().item<double>(), eps + 1e-6);
    // The attacks do move the images.
    EXPECT_GT(medadv::metrics::linf_norm(x, linf.adversarial).min().item<double>(), 0.0);
    EXPECT_GT(medadv::metrics::l2_norm(x, l2.adversarial).min().item<double>(), 0.0);
    EXPECT_EQ(count(linf.iterations != 5), 0);
  }
}

// ---- Strength -----------------------------------------------------------------------

TEST(GradientAttacks, PgdBeatsAMajorityAndIsAtLeastAsStrongAsFgsm) {
  const Trained& t = trained_classifier();
  ASSERT_GE(t.accuracy, 0.95) << "the synthetic task did not train";
  const std::int64_t n = 128;
  const auto labels = torch::arange(n) % 2;
  const auto images = intensity_images(labels, 33);  // held-out draws of the same task
  torch::Tensor correct;
  {
    torch::NoGradGuard no_grad;
    correct = t.model->forward(images).argmax(1).eq(labels);
  }
  const auto n_correct = count(correct);
  ASSERT_GE(n_correct, n * 9 / 10);

  AttackBatch batch{images, labels, {}};
  const std::string eps = "16/255";
  const auto fgsm = run_attack<g::Fgsm>("fgsm", {{"epsilon", eps}}, t.model, 2, batch);
  const auto pgd = run_attack<g::Pgd>("pgd", {{"epsilon", eps}, {"step", "2/255"}, {"steps", 20}}, t.model, 2, batch);
  const auto pgd_l2 = run_attack<g::Pgd>(
      "pgd", {{"epsilon", 16 * kStrengthEps}, {"step", 2 * kStrengthEps}, {"steps", 20}, {"norm", "l2"}}, t.model, 2,
      batch);
  const auto rate = [&](const AttackResult& r) {
    return static_cast<double>(count(r.success.logical_and(correct))) / static_cast<double>(n_correct);
  };
  std::cout << "[gradient] eps 16/255 on " << n_correct << " correctly classified images: fgsm " << rate(fgsm)
            << ", pgd linf (20 x 2/255) " << rate(pgd) << ", pgd l2 (eps " << 16 * kStrengthEps << ") "
            << rate(pgd_l2) << "\n";
  EXPECT_GT(rate(pgd), 0.5);
  EXPECT_GE(rate(pgd), rate(fgsm));
  EXPECT_GT(rate(pgd_l2), 0.5);
  // Smaller budgets are weaker (reported for reference; 8/255 is below most class margins).
  const auto mid = run_attack<g::Pgd>("pgd", {{"epsilon", "8/255"}, {"step", "1/255"}, {"steps", 20}}, t.model, 2,
                                      batch);
  const auto small = run_attack<g::Pgd>("pgd", {{"epsilon", "2/255"}, {"step", "0.25/255"}, {"steps", 20}}, t.model,
                                        2, batch);
  std::cout << "[gradient] pgd linf (20 steps of eps/8): eps 8/255 " << rate(mid) << ", eps 2/255 " << rate(small)
            << "\n";
  EXPECT_LE(rate(small), rate(mid));
  EXPECT_LE(rate(mid), rate(pgd));
}

TEST(GradientAttacks, EarlyStopFreezesSucceededSamples) {
  const Trained& t = trained_classifier();
  const auto labels = torch::arange(64) % 2;
  AttackBatch batch{intensity_images(labels, 34), labels, {}};
  const Value::Table base{{"epsilon", "16/255"}, {"step", "2/255"}, {"steps", 20}};
  auto with_early = base;
  with_early.emplace_back("early_stop", true);
  const auto full = run_attack<g::Pgd>("pgd", base, t.model, 2, batch, 3);
  const auto early = run_attack<g::Pgd>("pgd", with_early, t.model, 2, batch, 3);
  expect_well_formed(early, batch);
  EXPECT_EQ(count(full.iterations != 20), 0);
  EXPECT_EQ(count(early.iterations > 20), 0);
  EXPECT_GT(count(early.iterations < 20), 0);
  // Same start and per-sample trajectory until a sample succeeds: early stopping loses
  // no success, and unsolved samples ran every step.
  EXPECT_EQ(count(full.success.logical_and(early.success.logical_not())), 0);
  EXPECT_EQ(count(early.success.logical_not().logical_and(early.iterations != 20)), 0);
  EXPECT_LE(medadv::metrics::linf_norm(batch.images, early.adversarial).max().item<double>(), 16.0 / 255 + 1e-6);
}

// ---- Determinism and restarts -------------------------------------------------------

TEST(GradientAttacks, SameSeedSameOutput) {
  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 2);
  model->eval();
  AttackBatch batch{medadv::testing::random_images(6, 3, 16, 14), torch::arange(6) % 3, {}};
  const Value::Table p{{"steps", 3}};
  const auto a = run_attack<g::Pgd>("pgd", p, model, 3, batch, 42);
  const auto b = run_attack<g::Pgd>("pgd", p, model, 3, batch, 42);
  const auto c = run_attack<g::Pgd>("pgd", p, model, 3, batch, 43);
  EXPECT_TRUE(torch::equal(a.adversarial, b.adversarial));
  EXPECT_TRUE(torch::equal(a.success, b.success));
  EXPECT_FALSE(torch::equal(a.adversarial, c.adversarial));
  // Calling under NoGradGuard (as a host evaluating might) changes nothing.
  torch::NoGradGuard no_grad;
  const auto d = run_attack<g::Pgd>("pgd", p, model, 3, batch, 42);
  EXPECT_TRUE(torch::equal(a.adversarial, d.adversarial));
}

TEST(GradientAttacks, RestartsKeepTheBestPerSample) {
  // An untrained classifier with small logit margins, attacked by a weak PGD whose
  // outcome depends on the random start: restarts find more adversarial examples.
  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 3);
  model->eval();
  const auto images = medadv::testing::random_images(64, 3, 16, 16);
  torch::Tensor labels;
  {
    torch::NoGradGuard no_grad;
    labels = model->forward(images).argmax(1);  // every sample correctly classified
  }
  AttackBatch batch{images, labels, {}};
  // One step of 2/255 from a random start in the 8/255 ball.
  const Value::Table weak{{"epsilon", "8/255"}, {"step", "2/255"}, {"steps", 1}};
  auto three = weak;
  three.emplace_back("restarts", 3);
  const auto one = run_attack<g::Pgd>("pgd", weak, model, 3, batch, 9);
  const auto best = run_attack<g::Pgd>("pgd", three, model, 3, batch, 9);
  std::cout << "[gradient] weak pgd on 64 samples: " << count(one.success) << " successes with 1 restart, "
            << count(best.success) << " with 3\n";
  EXPECT_GE(count(best.success), count(one.success));
  // Restart 0 draws from the same seed stream: its successes are kept as they were.
  const auto kept = one.success;
  EXPECT_EQ(count(kept.logical_and(best.success.logical_not())), 0);
  EXPECT_TRUE(torch::equal(best.adversarial.index({kept}), one.adversarial.index({kept})));
  EXPECT_EQ(count(best.iterations.index({kept}) != 1), 0);
  // Samples unsolved after restart 0 were attacked again.
  EXPECT_EQ(count(best.iterations.index({kept.logical_not()}) < 2), 0);
  // Unsolved samples keep the highest objective over the restarts: never below restart 0's.
  const auto unsolved = best.success.logical_not();
  if (count(unsolved) > 0) {
    torch::NoGradGuard no_grad;
    const auto v_one = medadv::cross_entropy_per_sample(model->forward(one.adversarial), labels);
    const auto v_best = medadv::cross_entropy_per_sample(model->forward(best.adversarial), labels);
    EXPECT_EQ(count((v_best < v_one - 1e-6).logical_and(unsolved)), 0);
  }
  EXPECT_LE(medadv::metrics::linf_norm(batch.images, best.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
}

TEST(GradientAttacks, RestartsWithoutRandomStartRunOnce) {
  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 3);
  model->eval();
  AttackBatch batch{medadv::testing::random_images(8, 3, 16, 17), torch::arange(8) % 3, {}};
  const Value::Table bim{{"steps", 2}, {"random_start", false}, {"restarts", 4}};
  const auto r = run_attack<g::Pgd>("pgd", bim, model, 3, batch);
  EXPECT_EQ(count(r.iterations != 2), 0);
}

TEST(GradientAttacks, StepHooksReachTheLoop) {
  // The extension points of later members (DIM input transforms, MIM/TIM gradient
  // transforms): a gradient hook that zeroes the gradient leaves L-inf PGD at its start;
  // an input hook sees every step.
  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 3);
  model->eval();
  const auto images = medadv::testing::random_images(4, 3, 16, 18);
  auto victim = std::make_shared<ModuleModel>(model, 3, medadv::Task::Classification);
  Capability cap = Capability::white_box(victim);
  const Objective objective(BaseLoss::CrossEntropy, false);
  const auto problem = g::make_problem(AttackBatch{images, torch::arange(4) % 3, {}}, cap, objective, "test");
  g::ProjectedSettings s;
  s.iter.epsilon = 8.0 / 255;
  s.iter.step = 2.0 / 255;
  s.iter.steps = 3;
  s.random_start = false;
  int inputs_seen = 0;
  medadv::testing::TestContext ctx;
  const auto out = g::run_projected(problem, s, ctx, [&](std::int64_t, const g::Problem&) {
    g::StepHooks h;
    h.input = [&](const torch::Tensor& x, std::int64_t) {
      ++inputs_seen;
      return x;
    };
    h.gradient = [](const torch::Tensor& grad, std::int64_t) { return torch::zeros_like(grad); };
    return h;
  });
  EXPECT_EQ(inputs_seen, 3);
  EXPECT_TRUE(torch::equal(out.adversarial, images));
}

// ---- Weights stay untouched ---------------------------------------------------------

TEST(GradientAttacks, ModelWeightsAndGradsUntouched) {
  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 5);
  model->eval();
  std::vector<torch::Tensor> before;
  for (const auto& p : model->parameters()) {
    ASSERT_TRUE(p.requires_grad());  // the attack must not rely on frozen parameters
    ASSERT_FALSE(p.grad().defined());
    before.push_back(p.detach().clone());
  }
  AttackBatch batch{medadv::testing::random_images(4, 3, 16, 15), torch::arange(4) % 3, {}};
  run_attack<g::Fgsm>("fgsm", {}, model, 3, batch);
  run_attack<g::Pgd>("pgd", {{"steps", 3}, {"restarts", 2}, {"early_stop", true}}, model, 3, batch);
  run_attack<g::Pgd>("pgd", {{"steps", 3}, {"norm", "l2"}}, model, 3, batch);
  const auto after = model->parameters();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(torch::equal(after[i], before[i])) << "parameter " << i;
    EXPECT_FALSE(after[i].grad().defined()) << "parameter " << i;
  }
}

// ---- Refusals -----------------------------------------------------------------------

TEST(GradientAttacks, RefusesWhatItCannotAttack) {
  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 5);
  medadv::testing::TestContext ctx;
  g::Pgd pgd(params_of<g::Pgd>("pgd"), ctx);
  AttackBatch batch{medadv::testing::random_images(2, 3, 16), torch::tensor({0, 1}), {}};
  // A targeted objective without targets.
  EXPECT_THROW(attack_with(pgd, model, 3, batch, Objective(BaseLoss::CrossEntropy, true), ctx), medadv::InvalidInput);
  // No gradients in a black-box capability.
  Capability black = Capability::black_box(nullptr);
  EXPECT_THROW(pgd.run(batch, black, Objective(BaseLoss::CrossEntropy, false), ctx), medadv::CapabilityError);
}
