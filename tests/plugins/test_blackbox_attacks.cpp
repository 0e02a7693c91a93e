// The score-based black-box attacks (plugins/attacks/blackbox): square, simba, nes and zoo.
// All see the victim only through an Oracle; here a counting oracle that enforces a budget
// as the host's does (host/engine/counting_oracle.h, not reachable from plugin tests)
// and records every call. Square: the paper's schedule of p by hand, the L-inf and L2
// balls, [0,1], budgets, early stop. SimBA: one coordinate of +-step per accepted pixel
// step, a true-class probability that never rises, the DCT basis in closed form. Both:
// refusals, and strength on the CI victim (small-cnn on phantom-fundus). NES and ZOO: their
// gradient estimates against a linear model's closed form, budgets, the ball, strength.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <medadv/capabilities.h>
#include <medadv/metrics.h>
#include <medadv/testing.h>

#include "attack_test_kit.h"
#include "attacks/blackbox/nes.h"
#include "attacks/blackbox/simba.h"
#include "attacks/blackbox/square.h"
#include "attacks/blackbox/zoo.h"
#include "trained_victims.h"

namespace blackbox_tests {

namespace bb = medadv::plugins::blackbox;
using medadv::AttackBatch;
using medadv::AttackResult;
using medadv::BaseLoss;
using medadv::Capability;
using medadv::Objective;
using medadv::Value;
using medadv::attack_testing::params_of;

// A budgeted, counting oracle over a module, as the host's CountingOracle: one row is one
// query for its owner; a call that would take any sample past the budget is refused whole.
// It also records, per sample, the query (1-based) whose answer first met the goal.
class RecordingOracle : public medadv::Oracle {
 public:
  RecordingOracle(std::shared_ptr<medadv::TappedModule> module, std::int64_t classes, std::int64_t batch,
                  std::int64_t budget, bool labels_only = false)
      : module_(std::move(module)), classes_(classes), budget_(budget), labels_only_(labels_only) {
    queries_ = torch::zeros({batch}, torch::kLong);
    first_success_ = torch::zeros({batch}, torch::kLong);
  }

  // Which answers count as success for first_success(): the label left (untargeted) or
  // the target reached (targeted).
  void watch(const torch::Tensor& labels, const torch::Tensor& targets) {
    labels_ = labels.to(torch::kCPU);
    targets_ = targets.defined() ? targets.to(torch::kCPU) : targets;
  }

  torch::Tensor probabilities(const torch::Tensor& x, const torch::Tensor& owners = {}) override {
    if (labels_only_) throw medadv::CapabilityError("labels only");
    return torch::softmax(query(x, owners), 1);
  }
  torch::Tensor labels(const torch::Tensor& x, const torch::Tensor& owners = {}) override {
    return query(x, owners).argmax(1);
  }
  bool labels_only() const override { return labels_only_; }
  torch::Tensor queries() const override { return queries_; }
  std::int64_t budget_per_sample() const override { return budget_; }
  std::int64_t num_classes() const override { return classes_; }

  const torch::Tensor& first_success() const { return first_success_; }
  std::int64_t calls = 0;
  std::int64_t largest_call = 0;
  bool duplicate_owner = false;

 private:
  torch::Tensor query(const torch::Tensor& x, const torch::Tensor& owners) {
    const std::int64_t batch = queries_.size(0);
    torch::Tensor rows = owners.defined() ? owners.to(torch::kCPU, torch::kLong) : torch::arange(batch);
    EXPECT_EQ(rows.numel(), x.size(0));
    const auto counts = torch::bincount(rows, {}, batch);
    if (counts.max().item<std::int64_t>() > 1) duplicate_owner = true;
    if ((queries_ + counts).max().item<std::int64_t>() > budget_) throw medadv::QueryBudgetExceeded("over budget");
    queries_ += counts;
    ++calls;
    largest_call = std::max(largest_call, x.size(0));
    torch::NoGradGuard no_grad;
    auto logits = module_->forward_taps(x.detach(), {}).logits;
    if (labels_.defined()) {
      const auto pred = logits.argmax(1).cpu();
      const auto met = targets_.defined() ? pred.eq(targets_.index_select(0, rows)) : pred.ne(labels_.index_select(0, rows));
      for (std::int64_t i = 0; i < rows.numel(); ++i) {
        const std::int64_t r = rows[i].item<std::int64_t>();
        if (met[i].item<bool>() && first_success_[r].item<std::int64_t>() == 0)
          first_success_[r] = queries_[r].item<std::int64_t>();
      }
    }
    return logits;
  }

  std::shared_ptr<medadv::TappedModule> module_;
  std::int64_t classes_, budget_;
  bool labels_only_;
  torch::Tensor queries_, first_success_, labels_, targets_;
};

std::int64_t blackbox_count(const torch::Tensor& mask) { return mask.to(torch::kLong).sum().item<std::int64_t>(); }

// logits = W x + b with W scaled by `scale`: margins a few steps of a black-box attack
// can cross (the tiny CNN's global pooling makes it nearly constant in its input).
std::shared_ptr<medadv::TappedModule> blackbox_linear_model(std::int64_t features, std::int64_t classes,
                                                            std::uint64_t seed, double scale) {
  auto m = std::make_shared<medadv::attack_testing::LinearModel>(features, classes, seed);
  torch::NoGradGuard no_grad;
  m->weight.mul_(scale);
  for (auto& p : m->parameters()) p.set_requires_grad(false);
  return m;
}

std::shared_ptr<medadv::TappedModule> blackbox_tiny_model(std::int64_t classes, std::uint64_t seed) {
  auto m = std::make_shared<medadv::testing::TinyClassifier>(3, classes, seed);
  m->eval();
  for (auto& p : m->parameters()) p.set_requires_grad(false);
  return m;
}

// Random images in [lo, hi] (deterministic).
torch::Tensor blackbox_images(std::int64_t n, std::int64_t size, double lo, double hi, std::uint64_t seed) {
  return medadv::testing::random_images(n, 3, size, seed) * (hi - lo) + lo;
}

template <class T>
AttackResult blackbox_run(Value::Table overrides, const char* name, RecordingOracle& oracle, const AttackBatch& batch,
                          const Objective& objective, std::uint64_t seed = 0) {
  medadv::testing::TestContext ctx(torch::kCPU, seed);
  T attack(params_of<T>(name, std::move(overrides)), ctx);
  // A Capability holds a shared_ptr; the oracle outlives the call.
  Capability cap = Capability::black_box(std::shared_ptr<medadv::Oracle>(&oracle, [](medadv::Oracle*) {}));
  return attack.run(batch, cap, objective, ctx);
}

// ---- Square ----------------------------------------------------------------------------

TEST(SquareSchedule, PMatchesThePapersTableAndItsRescaling) {
  const double p = 0.8;
  // A 10000-query budget: p halves after iterations 10, 50, 200, 500, 1000, 2000, 4000,
  // 6000 and 8000 (iterations counted from 0 after the start).
  const std::vector<std::pair<std::int64_t, double>> full = {
      {0, p},          {10, p},         {11, p / 2},     {50, p / 2},     {51, p / 4},     {200, p / 4},
      {201, p / 8},    {500, p / 8},    {501, p / 16},   {1000, p / 16},  {1001, p / 32},  {2000, p / 32},
      {2001, p / 64},  {4000, p / 64},  {4001, p / 128}, {6000, p / 128}, {6001, p / 256}, {8000, p / 256},
      {8001, p / 512}, {9998, p / 512}};
  for (const auto& [it, want] : full) EXPECT_DOUBLE_EQ(bb::square_p_selection(p, it, 10000), want) << "it " << it;
  // Rescaled to 1000 queries: it' = it * 10.
  const std::vector<std::pair<std::int64_t, double>> thousand = {
      {1, p}, {2, p / 2}, {5, p / 2}, {6, p / 4}, {20, p / 4}, {21, p / 8}, {100, p / 16}, {101, p / 32},
      {800, p / 256}, {801, p / 512}, {998, p / 512}};
  for (const auto& [it, want] : thousand) EXPECT_DOUBLE_EQ(bb::square_p_selection(p, it, 1000), want) << "it " << it;
  // Rescaled to 5000 (the default budget): it' = it * 2.
  const std::vector<std::pair<std::int64_t, double>> five = {
      {5, p}, {6, p / 2}, {25, p / 2}, {26, p / 4}, {4000, p / 256}, {4001, p / 512}};
  for (const auto& [it, want] : five) EXPECT_DOUBLE_EQ(bb::square_p_selection(0.8, it, 5000), want) << "it " << it;
  // Rescaled to 300: it' = floor(it * 10000 / 300), e.g. 3 -> 100 (p/4), 15 -> 500 (p/8), 16 -> 533.
  EXPECT_DOUBLE_EQ(bb::square_p_selection(p, 1, 300), p / 2);  // 33
  EXPECT_DOUBLE_EQ(bb::square_p_selection(p, 3, 300), p / 4);
  EXPECT_DOUBLE_EQ(bb::square_p_selection(p, 15, 300), p / 8);
  EXPECT_DOUBLE_EQ(bb::square_p_selection(p, 16, 300), p / 16);

  // Window sides on 32 x 32 images: round(sqrt(p * 1024)).
  EXPECT_EQ(bb::square_side_linf(0.8, 32, 32), 29);  // sqrt(819.2) = 28.6
  EXPECT_EQ(bb::square_side_linf(0.8 / 512, 32, 32), 1);
  EXPECT_EQ(bb::square_side_linf(1.0, 32, 32), 31);  // at most min(H, W) - 1
  EXPECT_EQ(bb::square_side_l2(0.1, 32, 32), 11);    // 10.1 -> 10, made odd
  EXPECT_EQ(bb::square_side_l2(0.8 / 512, 32, 32), 3);
}

TEST(SquareSchedule, L2BumpIsTheAuthorsPseudoGaussian) {
  // pseudo_gaussian_pert_rectangles(3, 3): rings k = 0, 1 around the centre, weighted
  // 1 / (k+1)^2: the centre 1 + 1/4, the ring 1/4.
  const auto r = bb::square_pseudo_gaussian_rectangles(3, 3);
  const double centre = 1 + 0.25, ring = 0.25;
  const double norm = std::sqrt(centre * centre + 8 * ring * ring);
  EXPECT_NEAR(r[1][1].item<double>(), centre / norm, 1e-12);
  EXPECT_NEAR(r[0][0].item<double>(), ring / norm, 1e-12);
  EXPECT_NEAR(r[2][1].item<double>(), ring / norm, 1e-12);
  auto gen = medadv::compat::cpu_generator(3);
  for (std::int64_t s : {3, 5, 10, 29}) {
    const auto bump = bb::square_bump(s, gen);
    EXPECT_NEAR(bump.pow(2).sum().item<double>(), 1.0, 1e-12) << s;
    // One half positive, the other negative (rows or, transposed, columns), summing to 0
    // only by accident: the two halves have opposite signs everywhere.
    const auto halves = std::vector<torch::Tensor>{bump.slice(0, 0, s / 2), bump.slice(0, s / 2, s)};
    const auto halves_t = std::vector<torch::Tensor>{bump.slice(1, 0, s / 2), bump.slice(1, s / 2, s)};
    const bool rows = (halves[0] > 0).all().item<bool>() && (halves[1] < 0).all().item<bool>();
    const bool cols = (halves_t[0] > 0).all().item<bool>() && (halves_t[1] < 0).all().item<bool>();
    EXPECT_TRUE(rows || cols) << s;
  }
}

TEST(SquareLinf, StaysInTheBallAtItsVerticesWithinBudgetAndStopsOnSuccess) {
  const std::int64_t n = 8, size = 16, classes = 3, budget = 60;
  auto model = blackbox_tiny_model(classes, 11);
  const auto x = medadv::testing::random_images(n, 3, size, 5);
  const auto y = torch::arange(n) % classes;
  const double eps = 8.0 / 255;
  RecordingOracle oracle(model, classes, n, 1000);
  oracle.watch(y, {});
  const AttackBatch batch{x, y, {}};
  const auto r = blackbox_run<bb::Square>({{"epsilon", "8/255"}, {"max_queries", budget}}, "square", oracle, batch,
                                          Objective(BaseLoss::CrossEntropy, false));
  const auto delta = r.adversarial - x;
  EXPECT_LE(delta.abs().max().item<double>(), eps + 1e-6);
  EXPECT_GE(r.adversarial.min().item<double>(), 0.0);
  EXPECT_LE(r.adversarial.max().item<double>(), 1.0);
  // L-inf Square only ever sets pixels to clean +- eps (clipped to [0,1]).
  const auto at_vertex = (delta.abs() - eps).abs().lt(1e-5);
  const auto clipped = r.adversarial.eq(0.0).logical_or(r.adversarial.eq(1.0));
  EXPECT_TRUE(at_vertex.logical_or(clipped).all().item<bool>());

  // Queries: the oracle's count is the attack's, never over max_queries, one per
  // iteration plus the start; at most one row per sample per call, at most the batch.
  EXPECT_TRUE(torch::equal(r.queries, oracle.queries()));
  EXPECT_LE(oracle.queries().max().item<std::int64_t>(), budget);
  EXPECT_TRUE(torch::equal(r.queries, r.iterations + 1));
  EXPECT_FALSE(oracle.duplicate_owner);
  EXPECT_LE(oracle.largest_call, n);
  // Early stop: a sample that succeeded stopped at the first query whose answer met the
  // goal (success is never thrown away), one that did not used its whole budget.
  const auto preds = model->forward_taps(r.adversarial, {}).logits.argmax(1);
  for (std::int64_t b = 0; b < n; ++b) {
    const bool ok = r.success[b].item<bool>();
    EXPECT_EQ(ok, preds[b].item<std::int64_t>() != y[b].item<std::int64_t>()) << b;
    if (ok) EXPECT_EQ(r.queries[b].item<std::int64_t>(), oracle.first_success()[b].item<std::int64_t>()) << b;
    else EXPECT_EQ(r.queries[b].item<std::int64_t>(), budget) << b;
  }
  EXPECT_GT(blackbox_count(r.success), 0);
  EXPECT_LT(blackbox_count(r.success), n) << "a test of both branches needs both outcomes; change the seed";
  EXPECT_LT(oracle.calls, budget + 1);
}

TEST(SquareLinf, NeverPassesAnOracleBudgetSmallerThanItsOwnAndIsDeterministic) {
  const std::int64_t n = 6, classes = 3;
  auto model = blackbox_tiny_model(classes, 12);
  const auto x = medadv::testing::random_images(n, 3, 12, 6);
  const auto y = torch::zeros({n}, torch::kLong);
  const AttackBatch batch{x, y, {}};
  RecordingOracle tight(model, classes, n, 7);
  const auto r = blackbox_run<bb::Square>({{"max_queries", 5000}}, "square", tight, batch,
                                          Objective(BaseLoss::CrossEntropy, false));
  EXPECT_LE(tight.queries().max().item<std::int64_t>(), 7);
  EXPECT_TRUE(torch::equal(r.queries, tight.queries()));
  // The same seed gives the same images and counts; another seed other images.
  RecordingOracle again(model, classes, n, 7), other(model, classes, n, 7);
  const auto r2 = blackbox_run<bb::Square>({{"max_queries", 5000}}, "square", again, batch,
                                           Objective(BaseLoss::CrossEntropy, false));
  const auto r3 = blackbox_run<bb::Square>({{"max_queries", 5000}}, "square", other, batch,
                                           Objective(BaseLoss::CrossEntropy, false), 99);
  EXPECT_TRUE(torch::equal(r.adversarial, r2.adversarial));
  EXPECT_TRUE(torch::equal(r.queries, r2.queries));
  EXPECT_FALSE(torch::equal(r.adversarial, r3.adversarial));
}

TEST(SquareL2, StaysInTheL2BallAndInsideTheBudget) {
  const std::int64_t n = 6, size = 20, classes = 3, budget = 40;
  auto model = blackbox_tiny_model(classes, 13);
  const auto x = medadv::testing::random_images(n, 3, size, 7);
  const auto y = torch::arange(n) % classes;
  const AttackBatch batch{x, y, {}};
  for (double eps : {0.5, 2.0}) {
    RecordingOracle o(model, classes, n, 1000);
    const auto r = blackbox_run<bb::Square>({{"epsilon", eps}, {"norm", "l2"}, {"max_queries", budget}}, "square", o,
                                            batch, Objective(BaseLoss::CrossEntropy, false));
    const auto l2 = (r.adversarial - x).flatten(1).norm(2, 1);
    EXPECT_LE(l2.max().item<double>(), eps * (1 + 1e-5)) << eps;
    // The start and every kept step use the whole radius unless [0,1] clips it.
    EXPECT_GT(l2.min().item<double>(), 0.5 * eps) << eps;
    EXPECT_GE(r.adversarial.min().item<double>(), 0.0);
    EXPECT_LE(r.adversarial.max().item<double>(), 1.0);
    EXPECT_LE(o.queries().max().item<std::int64_t>(), budget);
    EXPECT_TRUE(torch::equal(r.queries, o.queries()));
    EXPECT_FALSE(o.duplicate_owner);
  }
}

TEST(SquareLinf, TargetedReachesTargetsAndRefusesWhatItCannotDo) {
  const std::int64_t n = 6, classes = 3;
  auto model = blackbox_tiny_model(classes, 14);
  const auto x = medadv::testing::random_images(n, 3, 12, 8);
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = model->forward_taps(x, {}).logits.argmax(1);
  }
  const auto t = (y + 1).remainder(classes);
  RecordingOracle oracle(model, classes, n, 1000);
  oracle.watch(y, t);
  const AttackBatch batch{x, y, t};
  const auto r = blackbox_run<bb::Square>({{"epsilon", "32/255"}, {"max_queries", 200}}, "square", oracle, batch,
                                          Objective(BaseLoss::CrossEntropy, true));
  const auto preds = model->forward_taps(r.adversarial, {}).logits.argmax(1);
  EXPECT_TRUE(torch::equal(r.success, preds.eq(t)));
  EXPECT_GT(blackbox_count(r.success), 0);
  for (std::int64_t b = 0; b < n; ++b)
    if (r.success[b].item<bool>()) {
      EXPECT_EQ(r.queries[b].item<std::int64_t>(), oracle.first_success()[b].item<std::int64_t>());
    }

  // A labels-only oracle (decision-based) cannot serve a score-based attack; targeted
  // needs targets; a segmentation task is refused before anything runs.
  RecordingOracle labels_only(model, classes, n, 1000, true);
  EXPECT_THROW(blackbox_run<bb::Square>({}, "square", labels_only, batch, Objective(BaseLoss::CrossEntropy, false)),
               medadv::CapabilityError);
  EXPECT_EQ(labels_only.calls, 0);
  EXPECT_THROW(blackbox_run<bb::Square>({}, "square", oracle, AttackBatch{x, y, {}}, Objective(BaseLoss::CrossEntropy, true)),
               medadv::InvalidInput);
  medadv::testing::TestContext ctx(torch::kCPU, 0);
  bb::Square square(params_of<bb::Square>("square"), ctx);
  EXPECT_THROW(square.check_task(medadv::testing::model_spec(1, 1, 32, medadv::Task::Segmentation)),
               medadv::InvalidInput);
  EXPECT_NO_THROW(square.check_task(medadv::testing::model_spec(3, 2, 32)));
  // A white-box capability has no oracle.
  Capability white = Capability::white_box(
      std::make_shared<medadv::ModuleModel>(model, classes, medadv::Task::Classification));
  EXPECT_THROW(square.run(batch, white, Objective(BaseLoss::CrossEntropy, false), ctx), medadv::CapabilityError);
  // Parameters are checked by the schema: an L-inf radius over 1, p_init out of (0, 1].
  EXPECT_THROW(params_of<bb::Square>("square", {{"epsilon", 1.5}}), medadv::ValidationError);
  EXPECT_NO_THROW(params_of<bb::Square>("square", {{"epsilon", 1.5}, {"norm", "l2"}}));
  EXPECT_THROW(params_of<bb::Square>("square", {{"p_init", 0.0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<bb::Square>("square", {{"max_queries", 0}}), medadv::ValidationError);
}

// ---- SimBA -----------------------------------------------------------------------------

TEST(SimbaBasis, DctBasisIsOrthonormalAndMatchesTheClosedForm) {
  const double pi = std::acos(-1.0);
  for (std::int64_t n : {1, 4, 7, 32}) {
    const auto d = bb::simba_dct_matrix(n);
    EXPECT_TRUE(torch::allclose(d.mm(d.t()), torch::eye(n, torch::kDouble), 0, 1e-12)) << n;
    for (std::int64_t k = 0; k < n; ++k)
      for (std::int64_t j = 0; j < n; j += 3) {
        const double want = std::sqrt((k == 0 ? 1.0 : 2.0) / n) * std::cos(pi * (2 * j + 1) * k / (2.0 * n));
        EXPECT_NEAR(d[k][j].item<double>(), want, 1e-12) << n << " " << k << " " << j;
      }
  }
  // Every basis image of a 2-channel 4 x 5 image: rows of an orthogonal matrix, each a
  // cosine pattern in one channel only.
  const auto like = torch::zeros({1, 2, 4, 5}, torch::kDouble);
  const auto dh = bb::simba_dct_matrix(4), dw = bb::simba_dct_matrix(5);
  std::vector<torch::Tensor> rows;
  for (std::int64_t i = 0; i < 40; ++i) rows.push_back(bb::simba_direction(bb::SimbaBasis::Dct, i, like, dh, dw).flatten());
  const auto q = torch::stack(rows);
  EXPECT_TRUE(torch::allclose(q.mm(q.t()), torch::eye(40, torch::kDouble), 0, 1e-12));
  const auto q27 = bb::simba_direction(bb::SimbaBasis::Dct, 27, like, dh, dw);  // channel 1, u = 1, v = 2
  EXPECT_EQ(q27[0].abs().sum().item<double>(), 0.0);
  EXPECT_NEAR(q27[1][3][4].item<double>(), dh[1][3].item<double>() * dw[2][4].item<double>(), 1e-15);
  // The pixel basis: one coordinate.
  const auto p27 = bb::simba_direction(bb::SimbaBasis::Pixel, 27, like, {}, {});
  EXPECT_EQ(p27.sum().item<double>(), 1.0);
  EXPECT_EQ(p27[1][1][2].item<double>(), 1.0);
}

TEST(SimbaBasis, OrdersCoverTheBasisLowFrequenciesFirst) {
  auto gen = medadv::compat::cpu_generator(1);
  const std::int64_t c = 3, h = 32, w = 32, n = c * h * w;
  bb::SimbaConfig config;  // dct, strided, freq_dims 32/8 = 4, stride 1
  EXPECT_EQ(bb::simba_freq_dims(config, h, w), 4);
  EXPECT_EQ(bb::simba_stride(config, h, w), 1);
  EXPECT_EQ(bb::simba_freq_dims(config, 224, 224), 28);  // the paper's 28 and 7 at 224 px
  EXPECT_EQ(bb::simba_stride(config, 224, 224), 7);
  const auto order = bb::simba_order(config, c, h, w, gen);
  ASSERT_EQ(order.numel(), n);
  EXPECT_TRUE(torch::equal(std::get<0>(order.sort()), torch::arange(n)));  // a permutation
  // Frequency band (max(u, v) - 3 for the bands beyond the 4 x 4 block) never falls.
  const auto u = torch::div(order, w, "floor").remainder(h), v = order.remainder(w);
  const auto band = torch::clamp_min(torch::max(u, v) - 3, 0);
  EXPECT_TRUE((band.slice(0, 1, n) >= band.slice(0, 0, n - 1)).all().item<bool>());
  EXPECT_EQ(blackbox_count(band.slice(0, 0, c * 16).eq(0)), c * 16);
  // random: the low block only; pixel: every coordinate.
  config.order = bb::SimbaOrder::Random;
  const auto low = bb::simba_order(config, c, h, w, gen);
  EXPECT_EQ(low.numel(), c * 16);
  EXPECT_TRUE((torch::max(torch::div(low, w, "floor").remainder(h), low.remainder(w)) < 4).all().item<bool>());
  config.basis = bb::SimbaBasis::Pixel;
  const auto pixels = bb::simba_order(config, c, h, w, gen);
  EXPECT_TRUE(torch::equal(std::get<0>(pixels.sort()), torch::arange(n)));
}

// Runs SimBA with an observer recording every iteration's images and probabilities.
struct SimbaTrace {
  std::vector<torch::Tensor> images, probability;
};

AttackResult simba_traced(const bb::SimbaConfig& config, RecordingOracle& oracle, const AttackBatch& batch,
                          const Objective& objective, SimbaTrace& trace) {
  return bb::run_simba(oracle, batch, objective, config, 5, [&](const torch::Tensor& x, const torch::Tensor& p) {
    trace.images.push_back(x.clone());
    trace.probability.push_back(p.clone());
  });
}

TEST(SimbaPixel, EachAcceptedStepChangesOneCoordinateByTheStepAndNeverRaisesTheTrueClass) {
  const std::int64_t n = 6, size = 8, classes = 3;
  auto model = blackbox_tiny_model(classes, 21);
  // Pixels in [0.25, 0.75]: a step of 0.2 is never clipped, so it shows whole.
  const auto x = blackbox_images(n, size, 0.25, 0.75, 9);
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = model->forward_taps(x, {}).logits.argmax(1);
  }
  bb::SimbaConfig config;
  config.basis = bb::SimbaBasis::Pixel;
  config.step = 0.2;
  config.max_queries = 81;
  for (bool targeted : {false, true}) {
    const auto t = targeted ? (y + 1).remainder(classes) : torch::Tensor();
    RecordingOracle oracle(model, classes, n, 1000);
    SimbaTrace trace;
    const auto r = simba_traced(config, oracle, AttackBatch{x, y, t}, Objective(BaseLoss::CrossEntropy, targeted), trace);
    ASSERT_GE(trace.images.size(), 2u);
    std::int64_t accepted = 0, rejected = 0;
    auto previous = x;
    torch::Tensor p_previous;
    for (std::size_t k = 0; k < trace.images.size(); ++k) {
      const auto diff = (trace.images[k] - previous).flatten(1);
      const auto changed = diff.abs().gt(1e-7).sum(1);
      EXPECT_LE(changed.max().item<std::int64_t>(), 1) << "iteration " << k;
      const auto moved = std::get<0>(diff.abs().max(1));
      for (std::int64_t b = 0; b < n; ++b) {
        if (changed[b].item<std::int64_t>() == 1) {
          ++accepted;
          EXPECT_NEAR(moved[b].item<double>(), 0.2, 1e-6);
        } else if (k > 0 && !r.success[b].item<bool>()) {
          ++rejected;
        }
      }
      if (p_previous.defined()) {
        // Untargeted: the true class never gains; targeted: the target never loses.
        if (targeted) EXPECT_TRUE((trace.probability[k] >= p_previous).all().item<bool>()) << k;
        else EXPECT_TRUE((trace.probability[k] <= p_previous).all().item<bool>()) << k;
      }
      previous = trace.images[k];
      p_previous = trace.probability[k];
    }
    EXPECT_GT(accepted, 0);
    EXPECT_GT(rejected, 0);
    // The traced probability is the model's at the returned image.
    const auto probs = torch::softmax(model->forward_taps(r.adversarial, {}).logits, 1);
    const auto cls = targeted ? t : y;
    EXPECT_TRUE(torch::allclose(probs.gather(1, cls.view({-1, 1})).squeeze(1), trace.probability.back(), 1e-5, 1e-6));
    // Queries: one for the clean image, then one or two per direction, within budget.
    EXPECT_TRUE(torch::equal(r.queries, oracle.queries()));
    EXPECT_TRUE((r.queries >= r.iterations + 1).all().item<bool>());
    EXPECT_TRUE((r.queries <= 2 * r.iterations + 1).all().item<bool>());
    EXPECT_LE(r.queries.max().item<std::int64_t>(), config.max_queries);
    EXPECT_FALSE(oracle.duplicate_owner);
    // The L2 distance is step * sqrt(accepted steps) for a pixel attack without clipping.
    const auto l2 = (r.adversarial - x).flatten(1).norm(2, 1);
    const auto steps = (r.adversarial - x).flatten(1).abs().gt(1e-7).sum(1).to(torch::kDouble);
    EXPECT_TRUE(torch::allclose(l2.to(torch::kDouble), 0.2 * steps.sqrt(), 1e-4, 1e-5));
  }
}

TEST(SimbaDct, StaysInBudgetStopsOnSuccessAndRefusesLabelsOnly) {
  // Two classes: a candidate that turns the prediction lowers the true class below 1/2,
  // under its current probability, so SimBA keeps it.
  const std::int64_t n = 6, classes = 2, budget = 90;
  auto model = blackbox_linear_model(3 * 16 * 16, classes, 22, 0.05);
  const auto x = medadv::testing::random_images(n, 3, 16, 10);
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = model->forward_taps(x, {}).logits.argmax(1);
  }
  RecordingOracle oracle(model, classes, n, 1000);
  oracle.watch(y, {});
  const AttackBatch batch{x, y, {}};
  const auto r = blackbox_run<bb::Simba>({{"max_queries", budget}, {"step", 0.5}}, "simba", oracle, batch,
                                         Objective(BaseLoss::CrossEntropy, false));
  EXPECT_TRUE(torch::equal(r.queries, oracle.queries()));
  EXPECT_LE(r.queries.max().item<std::int64_t>(), budget);
  EXPECT_GE(r.adversarial.min().item<double>(), 0.0);
  EXPECT_LE(r.adversarial.max().item<double>(), 1.0);
  const auto preds = model->forward_taps(r.adversarial, {}).logits.argmax(1);
  EXPECT_TRUE(torch::equal(r.success, preds.ne(y)));
  EXPECT_GT(blackbox_count(r.success), 0);
  EXPECT_LT(blackbox_count(r.success), n) << "a test of both branches needs both outcomes";
  for (std::int64_t b = 0; b < n; ++b) {
    // The first answer that turned the prediction was kept, and the sample stopped there.
    if (r.success[b].item<bool>())
      EXPECT_EQ(r.queries[b].item<std::int64_t>(), oracle.first_success()[b].item<std::int64_t>()) << b;
    else
      EXPECT_GE(r.queries[b].item<std::int64_t>(), budget - 1) << b;  // the last direction may need two
  }
  // A budget smaller than max_queries: the oracle's wins, nothing is refused.
  RecordingOracle tight(model, classes, n, 9);
  const auto small = blackbox_run<bb::Simba>({}, "simba", tight, batch, Objective(BaseLoss::CrossEntropy, false));
  EXPECT_LE(tight.queries().max().item<std::int64_t>(), 9);
  EXPECT_TRUE(torch::equal(small.queries, tight.queries()));

  RecordingOracle labels_only(model, classes, n, 1000, true);
  EXPECT_THROW(blackbox_run<bb::Simba>({}, "simba", labels_only, batch, Objective(BaseLoss::CrossEntropy, false)),
               medadv::CapabilityError);
  medadv::testing::TestContext ctx(torch::kCPU, 0);
  bb::Simba simba(params_of<bb::Simba>("simba"), ctx);
  EXPECT_THROW(simba.check_task(medadv::testing::model_spec(1, 1, 32, medadv::Task::Segmentation)),
               medadv::InvalidInput);
  EXPECT_THROW(params_of<bb::Simba>("simba", {{"step", 0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<bb::Simba>("simba", {{"basis", "wavelet"}}), medadv::ValidationError);
}

// ---- Strength on the CI victim ---------------------------------------------------------

struct BlackboxVictimBatch {
  torch::Tensor images, labels;
};

// The first `n` correctly classified test images of the fundus victim.
BlackboxVictimBatch blackbox_victim_batch(const medadv::testing::TrainedVictim& v, std::int64_t n) {
  auto [images, labels] = v.correctly_classified(v.test_images, v.test_labels);
  n = std::min<std::int64_t>(n, images.size(0));
  return {images.slice(0, 0, n), labels.slice(0, 0, n)};
}

template <class T>
AttackResult blackbox_on_victim(const medadv::testing::TrainedVictim& v, const BlackboxVictimBatch& data,
                                Value::Table overrides, const char* name, RecordingOracle& oracle) {
  medadv::testing::TestContext ctx(0);
  T attack(params_of<T>(name, std::move(overrides)), ctx);
  Capability cap = Capability::black_box(std::shared_ptr<medadv::Oracle>(&oracle, [](medadv::Oracle*) {}));
  return attack.run(AttackBatch{data.images, data.labels, {}}, cap, Objective(BaseLoss::CrossEntropy, false), ctx);
}

// Untargeted L-inf attack `T` at 8/255 with 1000 queries on 32 correctly classified images
// of the CI victim: success is the victim's own verdict, every image stays in the ball, no
// sample passes the budget, the attack's query counts are the oracle's; returns the
// success rate.
template <class T>
double blackbox_linf_strength_on_fundus(const char* name) {
  const auto& v = medadv::testing::fundus_small_cnn();
  const auto data = blackbox_victim_batch(v, 32);
  EXPECT_GE(data.images.size(0), 24);
  const std::int64_t n = data.images.size(0), budget = 1000;
  RecordingOracle oracle(v.module, 2, n, budget);
  const AttackResult r = blackbox_on_victim<T>(v, data, {{"epsilon", "8/255"}, {"max_queries", budget}}, name, oracle);
  const double rate = static_cast<double>(blackbox_count(r.success)) / static_cast<double>(n);
  const auto preds = v.model->logits(r.adversarial).argmax(1);
  EXPECT_TRUE(torch::equal(r.success.cpu(), preds.ne(data.labels).cpu()));
  EXPECT_LE(medadv::metrics::linf_norm(data.images, r.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
  EXPECT_LE(oracle.queries().max().item<std::int64_t>(), budget);
  EXPECT_TRUE(torch::equal(r.queries, oracle.queries()));
  const auto solved = r.success.cpu();
  std::cout << "[" << name << "] linf 8/255, " << budget << " queries: success " << rate * 100 << "% of " << n
            << " correctly classified images, mean queries over the successful "
            << r.queries.index({solved}).to(torch::kDouble).mean().item<double>() << "\n";
  return rate;
}

TEST(SquareOnFundus, BreaksMostCorrectlyClassifiedImagesAt8Over255Within1000Queries) {
  // Measured on the CPU (seed 0): 96.9% of these 32 (92.2% of the first 64) within 1000
  // queries, 75% of 64 within 300 (docs/decisions.md, "Black-box attacks"); issue 30 asks
  // for 80% within 1000.
  EXPECT_GE(blackbox_linf_strength_on_fundus<bb::Square>("square"), 0.8);
}

TEST(SimbaOnFundus, BreaksMostCorrectlyClassifiedImagesAtItsDefaultStep) {
  const auto& v = medadv::testing::fundus_small_cnn();
  const auto data = blackbox_victim_batch(v, 32);
  ASSERT_GE(data.images.size(0), 24);
  const std::int64_t n = data.images.size(0), budget = 500;
  RecordingOracle oracle(v.module, 2, n, budget);
  const auto r = blackbox_on_victim<bb::Simba>(v, data, {{"max_queries", budget}}, "simba", oracle);
  const double rate = static_cast<double>(blackbox_count(r.success)) / static_cast<double>(n);
  const auto preds = v.model->logits(r.adversarial).argmax(1);
  EXPECT_TRUE(torch::equal(r.success.cpu(), preds.ne(data.labels).cpu()));
  EXPECT_LE(oracle.queries().max().item<std::int64_t>(), budget);
  const auto solved = r.success.cpu();
  const auto l2 = medadv::metrics::l2_norm(data.images, r.adversarial).cpu();
  std::cout << "[simba] dct, step 0.2, " << budget << " queries: success " << rate * 100 << "% of " << n
            << ", mean queries over the successful " << r.queries.index({solved}).to(torch::kDouble).mean().item<double>()
            << ", mean L2 " << l2.index({solved}).mean().item<double>() << "\n";
  // L2 after T accepted steps is at most step * sqrt(T) <= 0.2 * sqrt(budget).
  EXPECT_LE(l2.max().item<double>(), 0.2 * std::sqrt(static_cast<double>(budget)) + 1e-4);
  // Measured on the CPU (seed 0): 100% of these 32 within 500 queries (96.9% of the first
  // 64; the pixel basis 93.8%), mean L2 about 1.5 (docs/decisions.md, "Black-box attacks").
  EXPECT_GE(rate, 0.8);
}



// ---- NES and ZOO (gradient-estimation attacks) -------------------------------------------

namespace gradient_estimation_tests {

// A double-precision linear classifier with two classes: the margin log p_y - log p_o is
// (W_y - W_o) x + (b_y - b_o), so its gradient is W_y - W_o exactly.
std::shared_ptr<medadv::TappedModule> estimation_linear_model(std::int64_t features, std::uint64_t seed) {
  auto m = blackbox_linear_model(features, 2, seed, 0.2);
  m->to(torch::kDouble);
  return m;
}

torch::Tensor estimation_true_margin_gradient(const std::shared_ptr<medadv::TappedModule>& model,
                                              const torch::Tensor& y) {
  const auto& w = std::dynamic_pointer_cast<medadv::attack_testing::LinearModel>(model)->weight;  // [2, N]
  return w.index_select(0, y) - w.index_select(0, 1 - y);                                        // [B, N]
}

TEST(NesEstimate, AlignsWithTheTrueGradientOfALinearModel) {
  const std::int64_t n = 4, size = 4, features = 3 * size * size;
  auto model = estimation_linear_model(features, 31);
  const auto x = blackbox_images(n, size, 0.25, 0.75, 12).to(torch::kDouble);
  const auto y = torch::tensor({0, 1, 0, 1}, torch::kLong);
  const auto truth = estimation_true_margin_gradient(model, y);
  RecordingOracle oracle(model, 2, n, 100000);
  bb::QueryLedger ledger(oracle, n, 100000);
  auto gen = medadv::compat::cpu_generator(4);
  const bb::NesLoss loss = [&](const torch::Tensor& probs, const torch::Tensor& which) {
    return bb::margin_or_target_ce(probs, y.index_select(0, which), {}, false);
  };
  // 2000 pairs in 48 dimensions: the cosine to the truth is about sqrt(2000 / 2049).
  const auto pairs = torch::tensor({2000, 2000, 2000, 1000}, torch::kLong);
  const auto g = bb::nes_gradient(ledger, x, torch::arange(n), pairs, 0.001, loss, gen).flatten(1);
  const auto cosine = torch::cosine_similarity(g, truth, 1);
  for (std::int64_t b = 0; b < n; ++b) EXPECT_GT(cosine[b].item<double>(), 0.9) << b;
  // Unbiased: the estimate's scale is the gradient's (||E g|| = ||grad||; with finite
  // pairs ||g||^2 ~ ||grad||^2 (1 + d / n)).
  const auto ratio = g.norm(2, 1) / truth.norm(2, 1);
  EXPECT_TRUE((ratio > 0.9).all().item<bool>() && (ratio < 1.2).all().item<bool>()) << ratio;
  // 2 queries per pair, owned by their sample.
  EXPECT_TRUE(torch::equal(oracle.queries(), 2 * pairs));
  EXPECT_TRUE(torch::equal(ledger.spent(), 2 * pairs));
  EXPECT_EQ(oracle.calls, 1);
}

TEST(ZooEstimate, PartialsMatchTheTrueDerivativesEvenAtTheBox) {
  const std::int64_t n = 4, size = 6, features = 3 * size * size, m = 10;
  auto model = estimation_linear_model(features, 32);
  auto x = blackbox_images(n, size, 0.0, 1.0, 13).to(torch::kDouble);
  const auto y = torch::tensor({1, 0, 1, 0}, torch::kLong);
  const auto truth = estimation_true_margin_gradient(model, y);
  auto gen = medadv::compat::cpu_generator(5);
  const auto coords = std::get<1>(torch::rand({n, features}, gen).topk(m, 1));
  // Coordinates on the box's edges: the probe there is one-sided, divided by its width.
  x.view({n, features})[0][coords[0][0].item<std::int64_t>()] = 0.0;
  x.view({n, features})[1][coords[1][0].item<std::int64_t>()] = 1.0;
  RecordingOracle oracle(model, 2, n, 100000);
  bb::QueryLedger ledger(oracle, n, 100000);
  const bb::ZooLoss loss = [&](const torch::Tensor& probs, const torch::Tensor& which) {
    return bb::zoo_loss(probs, y.index_select(0, which), {}, false, 1e9);
  };
  const auto counts = torch::tensor({m, m, m, std::int64_t{3}}, torch::kLong);
  const auto g = bb::zoo_partials(ledger, x, torch::arange(n), coords, counts, 1e-4, loss);
  const auto want = truth.gather(1, coords);
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t j = 0; j < m; ++j) {
      const double expected = j < counts[b].item<std::int64_t>() ? want[b][j].item<double>() : 0.0;
      EXPECT_NEAR(g[b][j].item<double>(), expected, 1e-6) << b << " " << j;
    }
  EXPECT_TRUE(torch::equal(oracle.queries(), 2 * counts));
  EXPECT_EQ(oracle.calls, 1);
  // The paper's loss: max(margin, -kappa) (untargeted), max(-margin to the target, -kappa).
  const auto probs = torch::tensor({{0.7, 0.2, 0.1}, {0.1, 0.3, 0.6}}, torch::kDouble);
  const auto lbl = torch::tensor({0, 2}, torch::kLong), tgt = torch::tensor({1, 1}, torch::kLong);
  const auto f = bb::zoo_loss(probs, lbl, {}, false, 0.5);
  EXPECT_NEAR(f[0].item<double>(), std::log(0.7 / 0.2), 1e-12);
  EXPECT_NEAR(f[1].item<double>(), std::log(0.6 / 0.3), 1e-12);
  const auto ft = bb::zoo_loss(probs, lbl, tgt, true, 0.5);
  EXPECT_NEAR(ft[0].item<double>(), std::log(0.7 / 0.2), 1e-12);
  EXPECT_NEAR(ft[1].item<double>(), std::log(0.6 / 0.3), 1e-12);
  EXPECT_NEAR(bb::zoo_loss(torch::tensor({{0.2, 0.8}}, torch::kDouble), torch::tensor({0}), {}, false, 0.5)
                  .item<double>(),
              -0.5, 1e-12);
}

// Checks shared by nes and zoo on a run: the L-inf ball, [0,1], budgets, success as the
// model says, and unsolved samples that stop only when no step fits (fewer than 3 left).
void estimation_check_run(const AttackResult& r, const RecordingOracle& oracle,
                          const std::shared_ptr<medadv::TappedModule>& model, const torch::Tensor& x,
                          const torch::Tensor& y, double eps, std::int64_t budget) {
  EXPECT_LE((r.adversarial - x).abs().max().item<double>(), eps + 1e-6);
  EXPECT_GE(r.adversarial.min().item<double>(), 0.0);
  EXPECT_LE(r.adversarial.max().item<double>(), 1.0);
  EXPECT_TRUE(torch::equal(r.queries, oracle.queries()));
  EXPECT_LE(oracle.queries().max().item<std::int64_t>(), budget);
  torch::NoGradGuard no_grad;
  const auto preds = model->forward_taps(r.adversarial, {}).logits.argmax(1);
  EXPECT_TRUE(torch::equal(r.success, preds.ne(y)));
  for (std::int64_t b = 0; b < x.size(0); ++b)
    if (!r.success[b].item<bool>()) {
      EXPECT_GE(r.queries[b].item<std::int64_t>(), budget - 2) << b;
    }
}

TEST(NesLinf, StaysInTheBallWithinBudgetStopsOnSuccessAndRefuses) {
  const std::int64_t n = 6, classes = 2, budget = 250;
  auto model = blackbox_linear_model(3 * 16 * 16, classes, 22, 0.2);
  const auto x = medadv::testing::random_images(n, 3, 16, 10);
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = model->forward_taps(x, {}).logits.argmax(1);
  }
  const AttackBatch batch{x, y, {}};
  RecordingOracle oracle(model, classes, n, 1000);
  const auto r = blackbox_run<bb::Nes>({{"epsilon", "16/255"}, {"step", "2/255"}, {"samples", 10}, {"max_queries", budget}},
                                       "nes", oracle, batch, Objective(BaseLoss::CrossEntropy, false));
  estimation_check_run(r, oracle, model, x, y, 16.0 / 255, budget);
  // 1 + 21 per full step; the last step takes the pairs that fit: 1 + 11 * 21 + 17 = 249.
  for (std::int64_t b = 0; b < n; ++b) {
    const std::int64_t q = r.queries[b].item<std::int64_t>(), it = r.iterations[b].item<std::int64_t>();
    if (r.success[b].item<bool>()) EXPECT_EQ(q, 1 + 21 * it) << b;
    else EXPECT_EQ(q, 249) << b;
  }
  EXPECT_GT(blackbox_count(r.success), 0);
  EXPECT_LT(blackbox_count(r.success), n) << "a test of both branches needs both outcomes";
  // The same seed gives the same images; an oracle budget below max_queries wins.
  RecordingOracle again(model, classes, n, 1000), tight(model, classes, n, 7);
  const auto r2 = blackbox_run<bb::Nes>({{"epsilon", "16/255"}, {"step", "2/255"}, {"samples", 10}, {"max_queries", budget}},
                                        "nes", again, batch, Objective(BaseLoss::CrossEntropy, false));
  EXPECT_TRUE(torch::equal(r.adversarial, r2.adversarial));
  const auto small = blackbox_run<bb::Nes>({}, "nes", tight, batch, Objective(BaseLoss::CrossEntropy, false));
  EXPECT_TRUE(torch::equal(small.queries, tight.queries()));
  EXPECT_LE(tight.queries().max().item<std::int64_t>(), 7);
  // L2: inside the L2 ball.
  RecordingOracle l2(model, classes, n, 1000);
  const auto rl2 = blackbox_run<bb::Nes>({{"norm", "l2"}, {"epsilon", 0.5}, {"step", 0.1}, {"samples", 10}, {"max_queries", 100}},
                                         "nes", l2, batch, Objective(BaseLoss::CrossEntropy, false));
  EXPECT_LE((rl2.adversarial - x).flatten(1).norm(2, 1).max().item<double>(), 0.5 + 1e-5);
  EXPECT_LE(l2.queries().max().item<std::int64_t>(), 100);
  EXPECT_TRUE(torch::equal(rl2.queries, l2.queries()));

  RecordingOracle labels_only(model, classes, n, 1000, true);
  EXPECT_THROW(blackbox_run<bb::Nes>({}, "nes", labels_only, batch, Objective(BaseLoss::CrossEntropy, false)),
               medadv::CapabilityError);
  EXPECT_EQ(labels_only.calls, 0);
  EXPECT_THROW(blackbox_run<bb::Nes>({}, "nes", oracle, batch, Objective(BaseLoss::CrossEntropy, true)),
               medadv::InvalidInput);
  medadv::testing::TestContext ctx(torch::kCPU, 0);
  bb::Nes nes(params_of<bb::Nes>("nes"), ctx);
  EXPECT_THROW(nes.check_task(medadv::testing::model_spec(1, 1, 32, medadv::Task::Segmentation)), medadv::InvalidInput);
  EXPECT_THROW(params_of<bb::Nes>("nes", {{"sigma", 0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<bb::Nes>("nes", {{"epsilon", 1.5}}), medadv::ValidationError);
}

TEST(NesLinf, TargetedReachesTargets) {
  const std::int64_t n = 6, classes = 3;
  auto model = blackbox_linear_model(3 * 12 * 12, classes, 23, 0.05);
  const auto x = medadv::testing::random_images(n, 3, 12, 11);
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = model->forward_taps(x, {}).logits.argmax(1);
  }
  const auto t = (y + 1).remainder(classes);
  RecordingOracle oracle(model, classes, n, 1000);
  const auto r = blackbox_run<bb::Nes>({{"epsilon", "16/255"}, {"step", "2/255"}, {"samples", 10}, {"max_queries", 400}},
                                       "nes", oracle, AttackBatch{x, y, t}, Objective(BaseLoss::CrossEntropy, true));
  torch::NoGradGuard no_grad;
  const auto preds = model->forward_taps(r.adversarial, {}).logits.argmax(1);
  EXPECT_TRUE(torch::equal(r.success, preds.eq(t)));
  EXPECT_GT(blackbox_count(r.success), 0);
  EXPECT_LE(oracle.queries().max().item<std::int64_t>(), 400);
}

TEST(ZooLinf, StaysInTheBallWithinBudgetAndMovesOnlyItsCoordinates) {
  const std::int64_t n = 6, classes = 2, budget = 300;
  auto model = blackbox_linear_model(3 * 16 * 16, classes, 22, 0.2);
  const auto x = medadv::testing::random_images(n, 3, 16, 10);
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = model->forward_taps(x, {}).logits.argmax(1);
  }
  const AttackBatch batch{x, y, {}};
  RecordingOracle oracle(model, classes, n, 1000);
  const auto r = blackbox_run<bb::Zoo>({{"epsilon", "16/255"}, {"coordinates", 16}, {"max_queries", budget}},
                                       "zoo", oracle, batch, Objective(BaseLoss::CrossEntropy, false));
  estimation_check_run(r, oracle, model, x, y, 16.0 / 255, budget);
  // 1 + 33 per full iteration; the last one takes the coordinates that fit: 1 + 9 * 33 = 298.
  for (std::int64_t b = 0; b < n; ++b) {
    const std::int64_t q = r.queries[b].item<std::int64_t>(), it = r.iterations[b].item<std::int64_t>();
    if (r.success[b].item<bool>()) EXPECT_EQ(q, 1 + 33 * it) << b;
    else EXPECT_EQ(q, 298) << b;
    const auto moved = (r.adversarial[b] - x[b]).abs().gt(0).sum().item<std::int64_t>();
    EXPECT_LE(moved, 16 * it) << b;
  }
  EXPECT_GT(blackbox_count(r.success), 0);
  EXPECT_LT(blackbox_count(r.success), n) << "a test of both branches needs both outcomes";
  // epsilon = 0: no ball, only [0,1]; a tight oracle budget wins.
  RecordingOracle loose(model, classes, n, 1000), tight(model, classes, n, 4);
  const auto unbounded = blackbox_run<bb::Zoo>({{"epsilon", 0}, {"coordinates", 16}, {"lr", 0.2}, {"max_queries", budget}},
                                               "zoo", loose, batch, Objective(BaseLoss::CrossEntropy, false));
  EXPECT_GT((unbounded.adversarial - x).abs().max().item<double>(), 16.0 / 255);
  EXPECT_GE(unbounded.adversarial.min().item<double>(), 0.0);
  EXPECT_LE(unbounded.adversarial.max().item<double>(), 1.0);
  const auto small = blackbox_run<bb::Zoo>({}, "zoo", tight, batch, Objective(BaseLoss::CrossEntropy, false));
  EXPECT_TRUE(torch::equal(small.queries, tight.queries()));
  EXPECT_LE(tight.queries().max().item<std::int64_t>(), 4);

  RecordingOracle labels_only(model, classes, n, 1000, true);
  EXPECT_THROW(blackbox_run<bb::Zoo>({}, "zoo", labels_only, batch, Objective(BaseLoss::CrossEntropy, false)),
               medadv::CapabilityError);
  EXPECT_EQ(labels_only.calls, 0);
  medadv::testing::TestContext ctx(torch::kCPU, 0);
  bb::Zoo zoo(params_of<bb::Zoo>("zoo"), ctx);
  EXPECT_THROW(zoo.check_task(medadv::testing::model_spec(1, 1, 32, medadv::Task::Segmentation)), medadv::InvalidInput);
  EXPECT_THROW(params_of<bb::Zoo>("zoo", {{"coordinates", 0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<bb::Zoo>("zoo", {{"epsilon", 1.5}}), medadv::ValidationError);
}

TEST(NesOnFundus, BreaksMostCorrectlyClassifiedImagesAt8Over255Within1000Queries) {
  // Measured on the CPU (seed 0, step 2/255, 50 pairs): 87.5% of these 32 within 1000
  // queries (9 steps), 62.5% within 500; step 1/255: 75% and 31% (docs/decisions.md).
  EXPECT_GE(blackbox_linf_strength_on_fundus<bb::Nes>("nes"), 0.7);
}

TEST(ZooOnFundus, LowersEveryMarginAt8Over255Within1000Queries) {
  // ZOO spends 257 queries per iteration on 128 of 3072 coordinates: 1000 queries move each
  // coordinate about 0.2 times, too few to break the victim, so the test asserts the loss
  // it minimises (the margin) falls for every image, and by a stated fraction on average.
  const auto& v = medadv::testing::fundus_small_cnn();
  const auto data = blackbox_victim_batch(v, 16);
  ASSERT_GE(data.images.size(0), 12);
  const std::int64_t n = data.images.size(0), budget = 1000;
  RecordingOracle oracle(v.module, 2, n, budget);
  const auto r = blackbox_on_victim<bb::Zoo>(v, data, {{"epsilon", "8/255"}, {"max_queries", budget}}, "zoo", oracle);
  const auto preds = v.model->logits(r.adversarial).argmax(1);
  EXPECT_TRUE(torch::equal(r.success.cpu(), preds.ne(data.labels).cpu()));
  EXPECT_LE(medadv::metrics::linf_norm(data.images, r.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
  EXPECT_LE(oracle.queries().max().item<std::int64_t>(), budget);
  EXPECT_TRUE(torch::equal(r.queries, oracle.queries()));
  const auto before = medadv::margin_per_sample(v.model->logits(data.images), data.labels).cpu();
  const auto after = medadv::margin_per_sample(v.model->logits(r.adversarial), data.labels).cpu();
  const double drop = (before - after).mean().item<double>() / before.mean().item<double>();
  std::cout << "[zoo] linf 8/255, " << budget << " queries: success " << blackbox_count(r.success) << " of " << n
            << ", mean margin " << before.mean().item<double>() << " -> " << after.mean().item<double>() << "\n";
  // Measured on the CPU (seed 0): margin 5.50 -> 3.64 on average (34%), every image's by at
  // least 1.2; 0 of 16 broken (34% of 32 within 2000 queries, docs/decisions.md).
  EXPECT_TRUE((before - after).gt(0.2).all().item<bool>()) << before - after;
  EXPECT_GE(drop, 0.2);
}

}  // namespace gradient_estimation_tests

}  // namespace blackbox_tests
