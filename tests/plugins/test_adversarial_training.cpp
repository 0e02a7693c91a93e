// The adversarial trainers (plugins/defenses/adversarial-training): the TRADES and MART
// losses against formulas written out here, the inner attack's budget and the frozen
// weights while it runs, the survey's defaults, MPAdvT's draws, and PGD-AT's robustness
// over natural training on the CI victim (small-cnn on phantom-fundus, 32 px).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <medadv/testing.h>
#include <medadv/torch_compat.h>
#include <medadv/training.h>

#include "attack_test_kit.h"
#include "attacks/gradient/pgd.h"
#include "defenses/adversarial-training/trainers.h"
#include "trained_victims.h"

namespace {

namespace adv = medadv::plugins::adversarial_training;
using medadv::Value;

template <class T>
medadv::Params advtrain_params(const std::string& name, Value::Table overrides = {}) {
  medadv::ParamSchema s;
  T::schema(s);
  return s.resolve_or_throw(Value(std::move(overrides)), name);
}

// What the inner attacks saw: one entry per run.
struct AdvTrainRecord {
  std::vector<std::string> made;              // plugin names the factory was asked for
  std::vector<Value> params;                  // and their parameter tables
  std::vector<torch::Tensor> clean, adversarial;
  std::vector<bool> module_training;          // the module's mode during the run
  std::vector<bool> any_weight_requires_grad; // during the run
  std::vector<torch::Tensor> objective_at_adversarial;  // the objective the attack was given, at its result
};

// Runs the real attack (or returns a fixed perturbation) and records what it saw.
class AdvTrainRecordingAttack : public medadv::Attack {
 public:
  using Perturb = std::function<torch::Tensor(const torch::Tensor& clean)>;
  AdvTrainRecordingAttack(std::shared_ptr<medadv::Attack> real, Perturb fixed, AdvTrainRecord& record,
                          medadv::TappedModule* watched)
      : real_(std::move(real)), fixed_(std::move(fixed)), record_(record), watched_(watched) {}

  medadv::AttackResult run(const medadv::AttackBatch& batch, medadv::Capability& capability,
                           const medadv::Objective& objective, medadv::RunContext& ctx) override {
    if (watched_) {
      record_.module_training.push_back(watched_->is_training());
      bool any = false;
      for (const auto& p : watched_->parameters()) any = any || p.requires_grad();
      record_.any_weight_requires_grad.push_back(any);
    }
    medadv::AttackResult r;
    if (real_) {
      r = real_->run(batch, capability, objective, ctx);
    } else {
      r.adversarial = fixed_(batch.images).detach();
      r.success = torch::zeros({batch.images.size(0)}, torch::kBool);
      r.iterations = torch::ones({batch.images.size(0)}, torch::kLong);
      r.queries = torch::zeros({batch.images.size(0)}, torch::kLong);
    }
    {
      torch::NoGradGuard no_grad;
      const auto out = capability.gradient_model().forward(r.adversarial, objective.required_taps());
      record_.objective_at_adversarial.push_back(
          objective.evaluate(out, r.adversarial, batch.labels, batch.targets).detach().clone());
    }
    record_.clean.push_back(batch.images.detach().clone());
    record_.adversarial.push_back(r.adversarial.detach().clone());
    return r;
  }

 private:
  std::shared_ptr<medadv::Attack> real_;
  Perturb fixed_;
  AdvTrainRecord& record_;
  medadv::TappedModule* watched_;
};

// The host's attack factory in miniature: "pgd" (the real plugin), or a fixed
// perturbation when one is given; every attack records into `record`.
class AdvTrainFactory : public medadv::AttackFactory {
 public:
  explicit AdvTrainFactory(medadv::RunContext& ctx, medadv::TappedModule* watched = nullptr,
                           AdvTrainRecordingAttack::Perturb fixed = {})
      : ctx_(ctx), watched_(watched), fixed_(std::move(fixed)) {}
  std::shared_ptr<medadv::Attack> make(const std::string& plugin, const Value& params) override {
    record.made.push_back(plugin);
    record.params.push_back(params);
    std::shared_ptr<medadv::Attack> real;
    if (!fixed_) {
      if (plugin != "pgd") throw medadv::Error("this test's factory makes pgd only, not '" + plugin + "'");
      medadv::ParamSchema s;
      medadv::plugins::gradient::Pgd::schema(s);
      real = std::make_shared<medadv::plugins::gradient::Pgd>(s.resolve_or_throw(params, plugin), ctx_);
    }
    return std::make_shared<AdvTrainRecordingAttack>(real, fixed_, record, watched_);
  }
  AdvTrainRecord record;

 private:
  medadv::RunContext& ctx_;
  medadv::TappedModule* watched_;
  AdvTrainRecordingAttack::Perturb fixed_;
};

medadv::ModelSpec advtrain_spec(std::int64_t channels, std::int64_t classes, std::int64_t size) {
  return medadv::testing::model_spec(channels, classes, size);
}

// ---- hand computations ---------------------------------------------------------------

// softmax of one row, in double
std::vector<double> advtrain_softmax(const torch::Tensor& row) {
  const auto z = row.to(torch::kFloat64).contiguous();
  const auto* v = z.data_ptr<double>();
  const auto k = z.size(0);
  double m = v[0];
  for (std::int64_t j = 1; j < k; ++j) m = std::max(m, v[j]);
  double sum = 0.0;
  std::vector<double> p(static_cast<std::size_t>(k));
  for (std::int64_t j = 0; j < k; ++j) sum += (p[static_cast<std::size_t>(j)] = std::exp(v[j] - m));
  for (auto& e : p) e /= sum;
  return p;
}

// TRADES by hand: per sample -log p_y + beta sum_j p_j log(p_j / q_j), p = softmax(clean),
// q = softmax(adv); the w[y]-weighted mean (w = 1 without weights).
double advtrain_trades_by_hand(const torch::Tensor& clean, const torch::Tensor& adv, const torch::Tensor& y,
                               double beta, const std::vector<double>& w = {}) {
  double total = 0.0, weight_sum = 0.0;
  for (std::int64_t i = 0; i < clean.size(0); ++i) {
    const auto p = advtrain_softmax(clean[i]);
    const auto q = advtrain_softmax(adv[i]);
    const auto label = static_cast<std::size_t>(y[i].item<std::int64_t>());
    double kl = 0.0;
    for (std::size_t j = 0; j < p.size(); ++j) kl += p[j] * std::log(p[j] / q[j]);
    const double wi = w.empty() ? 1.0 : w[label];
    total += wi * (-std::log(p[label]) + beta * kl);
    weight_sum += wi;
  }
  return total / weight_sum;
}

// MART by hand (Wang et al.'s code): per sample
//   -log q_y - log(1.0001 - q_y' + 1e-12) + beta sum_j p_j (log p_j - log(q_j + 1e-12)) (1.0000001 - p_y),
// y' = the most probable class under q other than y; the plain mean.
double advtrain_mart_by_hand(const torch::Tensor& clean, const torch::Tensor& adv, const torch::Tensor& y, double beta) {
  double total = 0.0;
  for (std::int64_t i = 0; i < clean.size(0); ++i) {
    const auto p = advtrain_softmax(clean[i]);
    const auto q = advtrain_softmax(adv[i]);
    const auto label = static_cast<std::size_t>(y[i].item<std::int64_t>());
    std::size_t wrong = label == 0 ? 1 : 0;
    for (std::size_t j = 0; j < q.size(); ++j)
      if (j != label && q[j] > q[wrong]) wrong = j;
    double kl = 0.0;
    for (std::size_t j = 0; j < p.size(); ++j) kl += p[j] * (std::log(p[j]) - std::log(q[j] + 1e-12));
    total += -std::log(q[label]) - std::log(1.0001 - q[wrong] + 1e-12) + beta * kl * (1.0000001 - p[label]);
  }
  return total / static_cast<double>(clean.size(0));
}

struct AdvTrainFixedBatch {
  std::shared_ptr<medadv::attack_testing::LinearModel> model;
  torch::Tensor x, y, delta;
};

// A linear model on 4x1x4x4 images with 3 classes, and a fixed perturbation of 8/255.
AdvTrainFixedBatch advtrain_fixed_batch() {
  AdvTrainFixedBatch b;
  b.model = std::make_shared<medadv::attack_testing::LinearModel>(16, 3, 5);
  {
    torch::NoGradGuard no_grad;
    b.model->weight.mul_(4.0);  // logits spread enough that the KL terms are not tiny
  }
  b.x = medadv::testing::random_images(6, 1, 4, 11);
  b.y = torch::tensor({0, 1, 2, 0, 1, 2}, torch::kInt64);
  auto gen = medadv::compat::cpu_generator(12);
  b.delta = (8.0 / 255.0) * torch::randn({6, 1, 4, 4}, gen).sign();
  return b;
}

}  // namespace

// ---- losses ------------------------------------------------------------------------

TEST(AdversarialTrainingLosses, TradesEqualsTheFormulaByHand) {
  const auto b = advtrain_fixed_batch();
  const auto x_adv = (b.x + b.delta).clamp(0.0, 1.0);
  torch::NoGradGuard no_grad;
  // In double: the formulas, not float32 rounding, are under test.
  const auto clean = b.model->forward(b.x).to(torch::kFloat64), adv = b.model->forward(x_adv).to(torch::kFloat64);
  for (double beta : {0.0, 1.0, 6.0}) {
    EXPECT_NEAR(adv::trades_loss(clean, adv, b.y, beta).item<double>(), advtrain_trades_by_hand(clean, adv, b.y, beta),
                1e-9)
        << "beta " << beta;
  }
  // Class weights weigh each sample's whole loss by w[y].
  const std::vector<double> w{0.5, 2.0, 1.0};
  EXPECT_NEAR(adv::trades_loss(clean, adv, b.y, 6.0, torch::tensor(w, torch::kFloat64)).item<double>(),
              advtrain_trades_by_hand(clean, adv, b.y, 6.0, w), 1e-9);
  // beta = 0 is natural training: the clean cross-entropy, whatever the adversarial logits.
  EXPECT_NEAR(adv::trades_loss(clean, adv, b.y, 0.0).item<double>(),
              torch::nn::functional::cross_entropy(clean, b.y).item<double>(), 1e-12);
  // The KL term is there: the adversarial logits differ from the clean ones.
  EXPECT_GT(adv::trades_loss(clean, adv, b.y, 6.0).item<double>(), adv::trades_loss(clean, adv, b.y, 0.0).item<double>() + 1e-3);
}

TEST(AdversarialTrainingLosses, MartEqualsTheFormulaByHand) {
  const auto b = advtrain_fixed_batch();
  const auto x_adv = (b.x + b.delta).clamp(0.0, 1.0);
  torch::NoGradGuard no_grad;
  // In double: with a confidently wrong adversarial prediction, log(1.0001 - q_y') loses
  // about 1e-5 of relative precision in float32.
  const auto clean = b.model->forward(b.x).to(torch::kFloat64), adv = b.model->forward(x_adv).to(torch::kFloat64);
  for (double beta : {0.0, 6.0}) {
    EXPECT_NEAR(adv::mart_loss(clean, adv, b.y, beta).item<double>(), advtrain_mart_by_hand(clean, adv, b.y, beta), 1e-9)
        << "beta " << beta;
  }
}

// The trainers' batch losses put the inner attack's examples into those formulas: with a
// fixed perturbation as the "attack", trades and mart give the hand values on (x, x + d).
// TRADES' inner objective is the KL to the clean prediction; MART's is the cross-entropy.
TEST(AdversarialTrainingLosses, TrainerBatchLossesUseTheInnerAttacksExamples) {
  medadv::testing::TestContext ctx(torch::kCPU, 0);
  const auto b = advtrain_fixed_batch();
  const auto spec = advtrain_spec(1, 3, 4);
  const auto perturb = [delta = b.delta](const torch::Tensor& x) { return (x + delta).clamp(0.0, 1.0); };
  const auto x_adv = perturb(b.x);
  torch::Tensor clean, adv;
  {
    torch::NoGradGuard no_grad;
    clean = b.model->forward(b.x);
    adv = b.model->forward(x_adv);
  }

  AdvTrainFactory trades_attacks(ctx, b.model.get(), perturb);
  adv::Trades trades(advtrain_params<adv::Trades>("trades", {{"epsilon", "8/255"}}), ctx);
  trades.prepare(trades_attacks, spec, {}, ctx);
  const auto trades_value = trades.batch_loss(*b.model, b.x, b.y);
  EXPECT_NEAR(trades_value.item<double>(), advtrain_trades_by_hand(clean, adv, b.y, 6.0), 1e-5);
  ASSERT_EQ(trades_attacks.record.objective_at_adversarial.size(), 1u);
  const auto kl_seen = trades_attacks.record.objective_at_adversarial[0];
  for (std::int64_t i = 0; i < 6; ++i) {
    const auto p = advtrain_softmax(clean[i]), q = advtrain_softmax(adv[i]);
    double kl = 0.0;
    for (std::size_t j = 0; j < p.size(); ++j) kl += p[j] * std::log(p[j] / q[j]);
    EXPECT_NEAR(kl_seen[i].item<double>(), kl, 1e-5) << "sample " << i;
  }

  AdvTrainFactory mart_attacks(ctx, b.model.get(), perturb);
  adv::Mart mart(advtrain_params<adv::Mart>("mart", {{"epsilon", "8/255"}}), ctx);
  mart.prepare(mart_attacks, spec, {}, ctx);
  // float32 here (the model's dtype): about 1e-5 relative precision, see above.
  EXPECT_NEAR(mart.batch_loss(*b.model, b.x, b.y).item<double>(), advtrain_mart_by_hand(clean, adv, b.y, 6.0), 2e-4);
  const auto ce_seen = mart_attacks.record.objective_at_adversarial.at(0);
  EXPECT_TRUE(torch::allclose(ce_seen, medadv::cross_entropy_per_sample(adv, b.y), 1e-5, 1e-6));

  // The outer loss trains the weights: its gradient reaches them.
  b.model->zero_grad();
  trades_value.backward();
  EXPECT_TRUE(b.model->weight.grad().defined());
  EXPECT_GT(b.model->weight.grad().abs().sum().item<double>(), 0.0);
}

// ---- the inner attack --------------------------------------------------------------

// PGD-AT through the SDK loop with the real pgd plugin: every inner example lies in the
// budget and in [0,1] and moved off the clean image; the attack ran in eval mode on
// frozen weights, and the loop trained the weights after it (gradients restored).
TEST(AdversarialTrainingInnerAttack, PgdAtExamplesStayInTheBudgetOnFrozenWeights) {
  medadv::testing::TestContext ctx(torch::kCPU, 3);
  auto model = std::make_shared<medadv::testing::TinyClassifier>(1, 2, 0);
  medadv::TrainingSet data;
  data.train = medadv::testing::sample_set(medadv::testing::random_images(24, 1, 16, 4), torch::arange(24) % 2);
  data.spec = advtrain_spec(1, 2, 16);
  const double epsilon = 4.0 / 255.0;
  adv::PgdAt trainer(advtrain_params<adv::PgdAt>("pgd-at", {{"epochs", 2}, {"batch_size", 8}, {"epsilon", "4/255"}, {"steps", 3}}),
                     ctx);
  AdvTrainFactory attacks(ctx, model.get());
  const auto before = medadv::snapshot_weights(*model);

  trainer.train(*model, data, attacks, ctx);

  const auto& r = attacks.record;
  ASSERT_EQ(r.made, std::vector<std::string>{"pgd"});  // one attack for the whole run
  EXPECT_NEAR(r.params[0].find("epsilon")->as_double(), epsilon, 1e-12);
  EXPECT_NEAR(r.params[0].find("step")->as_double(), 1.0 / 255.0, 1e-12);  // the survey's step at 4/255
  EXPECT_EQ(r.params[0].find("steps")->as_int(), 3);
  ASSERT_EQ(r.adversarial.size(), 6u);  // 3 batches x 2 epochs
  for (std::size_t i = 0; i < r.adversarial.size(); ++i) {
    const auto d = (r.adversarial[i] - r.clean[i]).abs();
    EXPECT_LE(d.max().item<double>(), epsilon + 1e-6) << "batch " << i;
    EXPECT_GT(d.max().item<double>(), 0.5 * epsilon) << "batch " << i;
    EXPECT_GE(r.adversarial[i].min().item<double>(), 0.0);
    EXPECT_LE(r.adversarial[i].max().item<double>(), 1.0);
    EXPECT_FALSE(r.module_training[i]) << "the inner attack runs in eval mode by default";
    EXPECT_FALSE(r.any_weight_requires_grad[i]) << "weights are frozen inside the attack";
  }
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.requires_grad());
  const auto after = medadv::snapshot_weights(*model);
  bool changed = false;
  for (std::size_t i = 0; i < before.size(); ++i) changed = changed || !torch::equal(before[i], after[i]);
  EXPECT_TRUE(changed);
  EXPECT_EQ(trainer.report().epochs.size(), 2u);
}

// fast-at asks for one step of 1.25 epsilon and runs it in train mode (Wong et al.).
TEST(AdversarialTrainingInnerAttack, FastAtIsOneStepOfOnePointTwoFiveEpsilonInTrainMode) {
  medadv::testing::TestContext ctx(torch::kCPU, 0);
  auto model = std::make_shared<medadv::testing::TinyClassifier>(1, 2, 0);
  medadv::TrainingSet data;
  data.train = medadv::testing::sample_set(medadv::testing::random_images(16, 1, 16, 4), torch::arange(16) % 2);
  data.spec = advtrain_spec(1, 2, 16);
  adv::FastAt trainer(advtrain_params<adv::FastAt>("fast-at", {{"epochs", 1}, {"batch_size", 8}, {"epsilon", "8/255"}}), ctx);
  AdvTrainFactory attacks(ctx, model.get());
  trainer.train(*model, data, attacks, ctx);
  const auto& r = attacks.record;
  ASSERT_EQ(r.params.size(), 1u);
  EXPECT_NEAR(r.params[0].find("step")->as_double(), 1.25 * 8.0 / 255.0, 1e-12);
  EXPECT_EQ(r.params[0].find("steps")->as_int(), 1);
  ASSERT_EQ(r.module_training.size(), 2u);
  EXPECT_TRUE(r.module_training[0]);
  for (std::size_t i = 0; i < r.adversarial.size(); ++i)
    EXPECT_LE((r.adversarial[i] - r.clean[i]).abs().max().item<double>(), 8.0 / 255.0 + 1e-6);
}

// ---- parameters ------------------------------------------------------------------

TEST(AdversarialTrainingParams, DefaultsAreTheSurveysSettings) {
  medadv::testing::TestContext ctx(torch::kCPU, 0);
  adv::PgdAt trainer(advtrain_params<adv::PgdAt>("pgd-at"), ctx);
  const auto& o = trainer.options();
  EXPECT_EQ(o.optimizer, medadv::OptimizerKind::Sgd);
  EXPECT_DOUBLE_EQ(o.lr, 0.01);
  EXPECT_DOUBLE_EQ(o.momentum, 0.9);
  EXPECT_FALSE(o.nesterov);
  EXPECT_DOUBLE_EQ(o.weight_decay, 1e-3);
  EXPECT_EQ(o.batch_size, 32);
  EXPECT_EQ(o.epochs, 100);
  EXPECT_EQ(o.schedule, medadv::ScheduleKind::Cyclic);
  EXPECT_EQ(o.class_weighting, medadv::ClassWeighting::Balanced);
  EXPECT_EQ(trainer.inner_options().steps, 10);
  EXPECT_EQ(trainer.inner_options().attack, "pgd");
  EXPECT_NEAR(trainer.inner_options().epsilon, 8.0 / 255.0, 1e-12);
  EXPECT_NEAR(trainer.inner_options().step, 2.0 / 255.0, 1e-12);
  // The survey's step per budget: 0.5, 0.5, 1, 2 /255 at 1, 2, 4, 8 /255.
  const double px = 1.0 / 255.0;
  EXPECT_NEAR(adv::survey_training_step(1 * px), 0.5 * px, 1e-12);
  EXPECT_NEAR(adv::survey_training_step(2 * px), 0.5 * px, 1e-12);
  EXPECT_NEAR(adv::survey_training_step(4 * px), 1.0 * px, 1e-12);
  EXPECT_NEAR(adv::survey_training_step(8 * px), 2.0 * px, 1e-12);
  EXPECT_NEAR(adv::survey_training_step(0.1 * px), 0.1 * px, 1e-12);  // never beyond epsilon
  // An explicit step wins.
  adv::PgdAt stepped(advtrain_params<adv::PgdAt>("pgd-at", {{"step", "3/255"}}), ctx);
  EXPECT_NEAR(stepped.inner_options().step, 3.0 / 255.0, 1e-12);
}

TEST(AdversarialTrainingParams, SchemaRefusesWhatTheMethodsDoNotDefine) {
  EXPECT_THROW(advtrain_params<adv::MpAdvT>("mpadvt", {{"epsilon_min", 0.05}}), medadv::ValidationError);
  EXPECT_THROW(advtrain_params<adv::MpAdvT>("mpadvt", {{"steps_min", 5}, {"steps_max", 2}}), medadv::ValidationError);
  EXPECT_THROW(advtrain_params<adv::Trades>("trades", {{"beta", -1.0}}), medadv::ValidationError);
  EXPECT_THROW(advtrain_params<adv::PgdAt>("pgd-at", {{"attack_mode", "training"}}), medadv::ValidationError);
  EXPECT_THROW(advtrain_params<adv::PgdAt>("pgd-at", {{"epsilon", 1.5}}), medadv::ValidationError);
  EXPECT_THROW(advtrain_params<adv::PgdAt>("pgd-at", {{"loss", "bce_dice"}}), medadv::ValidationError);
  EXPECT_NO_THROW(advtrain_params<adv::PgdAt>("pgd-at", {{"loss", "auto"}}));
  // TRADES and MART are defined for classifiers only.
  medadv::testing::TestContext ctx(torch::kCPU, 0);
  adv::Trades trades(advtrain_params<adv::Trades>("trades"), ctx);
  adv::Mart mart(advtrain_params<adv::Mart>("mart"), ctx);
  medadv::TrainingSet data;
  data.train = medadv::testing::sample_set(medadv::testing::random_images(4, 1, 16, 1), torch::zeros({4, 1, 16, 16}),
                                           medadv::Task::Segmentation);
  data.spec = medadv::testing::model_spec(1, 1, 16, medadv::Task::Segmentation);
  medadv::testing::TinyClassifier model(1, 2, 0);
  AdvTrainFactory attacks(ctx);
  EXPECT_THROW(trades.train(model, data, attacks, ctx), medadv::InvalidInput);
  EXPECT_THROW(mart.train(model, data, attacks, ctx), medadv::InvalidInput);
}

// ---- mpadvt ------------------------------------------------------------------------

TEST(AdversarialTrainingMpAdvT, DrawsFollowTheProbabilityAndRangesForASeed) {
  medadv::testing::TestContext ctx(torch::kCPU, 0);
  adv::MpAdvT trainer(advtrain_params<adv::MpAdvT>("mpadvt"), ctx);
  auto gen = medadv::compat::cpu_generator(7);
  const int n = 4000;
  int replaced = 0;
  double lowest = 1.0, highest = 0.0;
  std::set<std::int64_t> steps;
  for (int i = 0; i < n; ++i) {
    const auto d = trainer.draw(gen);
    replaced += d.replace ? 1 : 0;
    lowest = std::min(lowest, d.epsilon);
    highest = std::max(highest, d.epsilon);
    steps.insert(d.steps);
  }
  EXPECT_NEAR(static_cast<double>(replaced) / n, 0.5, 0.03);  // 4.8 standard deviations
  EXPECT_GE(lowest, 0.01);
  EXPECT_LE(highest, 0.04);
  EXPECT_LT(lowest, 0.0102);
  EXPECT_GT(highest, 0.0398);
  EXPECT_EQ(steps, (std::set<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // The same seed draws the same sequence.
  auto a = medadv::compat::cpu_generator(3), b = medadv::compat::cpu_generator(3);
  for (int i = 0; i < 20; ++i) {
    const auto da = trainer.draw(a), db = trainer.draw(b);
    EXPECT_EQ(da.replace, db.replace);
    EXPECT_EQ(da.epsilon, db.epsilon);
    EXPECT_EQ(da.steps, db.steps);
  }
}

// A replaced batch is attacked at its draw's budget and step count; a kept one is not.
TEST(AdversarialTrainingMpAdvT, ReplacedBatchesAreAttackedAtTheirDraw) {
  medadv::testing::TestContext ctx(torch::kCPU, 1);
  auto model = std::make_shared<medadv::testing::TinyClassifier>(1, 2, 0);
  adv::MpAdvT trainer(advtrain_params<adv::MpAdvT>("mpadvt"), ctx);
  AdvTrainFactory attacks(ctx, model.get());
  trainer.prepare(attacks, advtrain_spec(1, 2, 16), {}, ctx);
  const std::size_t made_at_prepare = attacks.record.made.size();
  const auto x = medadv::testing::random_images(8, 1, 16, 2);
  const auto y = torch::arange(8) % 2;
  int replaced = 0;
  for (int i = 0; i < 12; ++i) {
    const std::size_t runs = attacks.record.adversarial.size();
    model->train();
    trainer.batch_loss(*model, x, y);
    const auto& d = trainer.last_draw();
    if (!d.replace) {
      EXPECT_EQ(attacks.record.adversarial.size(), runs);
      continue;
    }
    ++replaced;
    ASSERT_EQ(attacks.record.adversarial.size(), runs + 1);
    const auto& params = attacks.record.params.back();
    EXPECT_NEAR(params.find("epsilon")->as_double(), d.epsilon, 1e-12);
    EXPECT_EQ(params.find("steps")->as_int(), d.steps);
    EXPECT_NEAR(params.find("step")->as_double(), 1.0 / 255.0, 1e-12);
    EXPECT_LE((attacks.record.adversarial.back() - x).abs().max().item<double>(), d.epsilon + 1e-6);
  }
  EXPECT_GT(replaced, 0);
  EXPECT_LT(replaced, 12);
  EXPECT_EQ(made_at_prepare, 1u);  // prepare() checked the attack once
}

// ---- strength on the CI victim ------------------------------------------------------

namespace {

// Accuracy under pgd (10 steps of epsilon/4 from a random start, cross-entropy) on `images`.
double advtrain_robust_accuracy(const std::shared_ptr<medadv::DifferentiableModel>& model, const torch::Tensor& images,
                                const torch::Tensor& labels, double epsilon) {
  medadv::testing::TestContext ctx(99);
  medadv::plugins::gradient::Pgd pgd(
      medadv::attack_testing::params_of<medadv::plugins::gradient::Pgd>(
          "pgd", {{"epsilon", epsilon}, {"step", epsilon / 4.0}, {"steps", 10}}),
      ctx);
  medadv::Capability capability = medadv::Capability::white_box(model);
  const auto r = pgd.run(medadv::AttackBatch{images, labels, {}}, capability,
                         medadv::Objective(medadv::BaseLoss::CrossEntropy, false), ctx);
  torch::NoGradGuard no_grad;
  return model->logits(r.adversarial).argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>();
}

double advtrain_clean_accuracy(const std::shared_ptr<medadv::DifferentiableModel>& model, const torch::Tensor& images,
                               const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  return model->logits(images).argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

// small-cnn on phantom-fundus (32 px, 600 images): PGD-AT at 8/255 (5 steps of the survey's
// 2/255, the natural victim's optimizer and schedule, 6 epochs) against the naturally
// trained victim, both under PGD (10 steps of epsilon / 4) at 4/255 and 8/255 on the test
// split.
TEST(AdversarialTrainingStrength, PgdAtRaisesRobustAccuracyOverNaturalTrainingOnFundus) {
  const auto start = std::chrono::steady_clock::now();
  const auto& victim = medadv::testing::fundus_small_cnn();
  const double epsilon = 4.0 / 255.0;

  medadv::testing::TestContext ctx(torch::kCPU, 0);
  medadv::ParamSchema model_schema;
  medadv::plugins::small_cnn::SmallCnnPlugin::schema(model_schema);
  medadv::plugins::small_cnn::SmallCnnPlugin plugin(model_schema.resolve_or_throw(Value(Value::Table{}), "small-cnn"), ctx);
  std::shared_ptr<medadv::TappedModule> module = plugin.build(victim.spec);
  medadv::TrainingSet data;
  data.spec = victim.spec;
  data.train = medadv::testing::sample_set(victim.train_images.cpu(), victim.train_labels.cpu());
  // The natural victim's TrainOptions{} (adam, lr 0.002, cosine), adversarially.
  adv::PgdAt trainer(advtrain_params<adv::PgdAt>("pgd-at", {{"epochs", 6},
                                                            {"optimizer", "adam"},
                                                            {"lr", 0.002},
                                                            {"weight_decay", 0.0},
                                                            {"schedule", "cosine"},
                                                            {"class_weighting", "none"},
                                                            {"epsilon", "8/255"},
                                                            {"steps", 5}}),
                     ctx);
  AdvTrainFactory attacks(ctx);
  trainer.train(*module, data, attacks, ctx);
  const auto trained = std::chrono::steady_clock::now();
  module->to(victim.test_images.device());
  auto robust_model = std::make_shared<medadv::ModuleModel>(module, victim.spec.num_classes, victim.spec.task);

  const double natural_clean = advtrain_clean_accuracy(victim.model, victim.test_images, victim.test_labels);
  const double natural_robust = advtrain_robust_accuracy(victim.model, victim.test_images, victim.test_labels, epsilon);
  const double at_clean = advtrain_clean_accuracy(robust_model, victim.test_images, victim.test_labels);
  const double at_robust = advtrain_robust_accuracy(robust_model, victim.test_images, victim.test_labels, epsilon);
  const double natural_robust8 = advtrain_robust_accuracy(victim.model, victim.test_images, victim.test_labels, 8.0 / 255.0);
  const double at_robust8 = advtrain_robust_accuracy(robust_model, victim.test_images, victim.test_labels, 8.0 / 255.0);
  std::cout << "[adversarial-training] small-cnn phantom-fundus 32 px, " << victim.test_labels.size(0)
            << " test images, clean / PGD 4/255 / PGD 8/255: natural " << natural_clean << " / " << natural_robust
            << " / " << natural_robust8 << "; pgd-at " << at_clean << " / " << at_robust << " / " << at_robust8
            << " (" << std::chrono::duration<double>(trained - start).count()
            << " s to train both, CPU)\n";
  // Measured on CPU (seed 0): natural 0.958 / 0.008 / 0.000, pgd-at 0.842 / 0.800 / 0.600.
  EXPECT_GE(at_robust, natural_robust + 0.40);
  EXPECT_GE(at_robust8, natural_robust8 + 0.30);
  // The price in clean accuracy (the survey's trade-off), bounded.
  EXPECT_LE(at_clean, natural_clean);
  EXPECT_GE(at_clean, 0.70);
}
