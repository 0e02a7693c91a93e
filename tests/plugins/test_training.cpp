// Natural training (medadv/training.h) with the built-in plugins: small-cnn learns
// phantom-fundus, schedules match hand-computed values, augmentation is exact, class
// weights are inverse frequencies, early stopping keeps the best epoch, and a run is
// reproducible from its seed. A small unet segments phantom-xray lung fields.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include <medadv/splits.h>
#include <medadv/testing.h>
#include <medadv/torch_compat.h>
#include <medadv/training.h>

#include "datasets/phantom/phantom_fundus.h"
#include "datasets/phantom/phantom_xray.h"
#include "models/segmentation/unet.h"
#include "models/small-cnn/small_cnn.h"

namespace {

using medadv::ModelSpec;
using medadv::TrainOptions;
using medadv::TrainingSet;
using medadv::Value;

ModelSpec classifier_spec(std::int64_t channels, std::int64_t classes, std::int64_t size) {
  ModelSpec s;
  s.channels = channels;
  s.num_classes = classes;
  s.image_size = size;
  return s;
}

std::shared_ptr<medadv::TappedModule> small_cnn(const ModelSpec& spec, std::int64_t width, std::uint64_t seed = 0) {
  medadv::ParamSchema schema;
  medadv::plugins::small_cnn::SmallCnnPlugin::schema(schema);
  medadv::testing::TestContext ctx(seed);
  medadv::plugins::small_cnn::SmallCnnPlugin plugin(
      schema.resolve_or_throw(Value(Value::Table{{"width", width}}), "small-cnn"), ctx);
  return plugin.build(spec);
}

// Dark images (pixels in [0, 0.4]) are class 0, bright ones ([0.6, 1]) class 1.
TrainingSet bright_versus_dark(std::int64_t n, std::int64_t size, std::uint64_t seed) {
  auto gen = medadv::compat::cpu_generator(seed);
  const auto labels = torch::arange(n) % 2;
  TrainingSet set;
  set.train = medadv::testing::sample_set(
      labels.to(torch::kFloat).mul(0.6).view({n, 1, 1, 1}) + 0.4 * torch::rand({n, 1, size, size}, gen), labels);
  set.spec = classifier_spec(1, 2, size);
  return set;
}

TrainOptions quick_options(std::int64_t epochs) {
  TrainOptions o;
  o.epochs = epochs;
  o.batch_size = 16;
  o.lr = 0.01;
  o.schedule = medadv::ScheduleKind::Constant;
  return o;
}

bool same_weights(medadv::TappedModule& a, medadv::TappedModule& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  if (pa.size() != pb.size()) return false;
  for (std::size_t i = 0; i < pa.size(); ++i)
    if (!torch::equal(pa[i], pb[i])) return false;
  return true;
}

medadv::Params train_params(Value::Table entries = {}) {
  medadv::ParamSchema s;
  medadv::train_options_schema(s);
  return s.resolve_or_throw(Value(std::move(entries)), "", "model.train.");
}

}  // namespace

TEST(TrainOptions, SchemaDeclaresEveryFieldWithTheStructDefaults) {
  medadv::ParamSchema s;
  medadv::train_options_schema(s);
  for (const auto& spec : s.specs()) EXPECT_FALSE(spec.doc().empty()) << spec.name();
  const TrainOptions from_schema = medadv::train_options_from(s.defaults(""));
  const TrainOptions d;
  EXPECT_EQ(from_schema.epochs, d.epochs);
  EXPECT_EQ(from_schema.batch_size, d.batch_size);
  EXPECT_EQ(from_schema.optimizer, d.optimizer);
  EXPECT_EQ(from_schema.lr, d.lr);
  EXPECT_EQ(from_schema.momentum, d.momentum);
  EXPECT_EQ(from_schema.nesterov, d.nesterov);
  EXPECT_EQ(from_schema.weight_decay, d.weight_decay);
  EXPECT_EQ(from_schema.schedule, d.schedule);
  EXPECT_EQ(from_schema.step_size, d.step_size);
  EXPECT_EQ(from_schema.gamma, d.gamma);
  EXPECT_EQ(from_schema.augment.hflip, d.augment.hflip);
  EXPECT_EQ(from_schema.augment.vflip, d.augment.vflip);
  EXPECT_EQ(from_schema.augment.rot90, d.augment.rot90);
  EXPECT_EQ(from_schema.augment.rotation, d.augment.rotation);
  EXPECT_EQ(from_schema.augment.crop_padding, d.augment.crop_padding);
  EXPECT_EQ(from_schema.class_weighting, d.class_weighting);
  EXPECT_EQ(from_schema.early_stopping, d.early_stopping);
  EXPECT_EQ(from_schema.loss, d.loss);
  EXPECT_EQ(s.specs().size(), 18u) << "a new TrainOptions field needs its parameter (and this count)";

  const auto o = medadv::train_options_from(
      train_params({{"optimizer", "sgd"}, {"nesterov", true}, {"schedule", "step"}, {"hflip", true}, {"loss", "ce"}}));
  EXPECT_EQ(o.optimizer, medadv::OptimizerKind::Sgd);
  EXPECT_TRUE(o.nesterov);
  EXPECT_EQ(o.schedule, medadv::ScheduleKind::Step);
  EXPECT_TRUE(o.augment.hflip);
  EXPECT_EQ(o.loss, medadv::TrainLoss::CrossEntropy);
  EXPECT_THROW(train_params({{"nesterov", true}}), medadv::ValidationError);  // adam
  EXPECT_THROW(train_params({{"optimizer", "sgd"}, {"nesterov", true}, {"momentum", 0}}), medadv::ValidationError);
  EXPECT_THROW(train_params({{"lr", 0}}), medadv::ValidationError);
  EXPECT_THROW(train_params({{"epochs", 0}}), medadv::ValidationError);
  EXPECT_THROW(train_params({{"schedule", "linear"}}), medadv::ValidationError);
}

TEST(LearningRateSchedule, HandComputedValues) {
  TrainOptions o;
  o.lr = 0.1;
  o.epochs = 4;
  const std::int64_t per_epoch = 10;  // T = 40 iterations
  auto schedule = [&](medadv::ScheduleKind kind) {
    o.schedule = kind;
    return medadv::LearningRateSchedule(o, per_epoch);
  };
  const auto constant = schedule(medadv::ScheduleKind::Constant);
  EXPECT_EQ(constant.total_iterations(), 40);
  EXPECT_DOUBLE_EQ(constant.at(0), 0.1);
  EXPECT_DOUBLE_EQ(constant.at(39), 0.1);

  o.step_size = 1;
  o.gamma = 0.5;
  const auto step = schedule(medadv::ScheduleKind::Step);
  EXPECT_DOUBLE_EQ(step.at(0), 0.1);
  EXPECT_DOUBLE_EQ(step.at(9), 0.1);      // still epoch 0
  EXPECT_DOUBLE_EQ(step.at(10), 0.05);    // epoch 1
  EXPECT_DOUBLE_EQ(step.at(25), 0.025);   // epoch 2
  EXPECT_DOUBLE_EQ(step.at(39), 0.0125);  // epoch 3
  o.step_size = 3;
  o.gamma = 0.1;
  const auto slow_step = schedule(medadv::ScheduleKind::Step);
  EXPECT_DOUBLE_EQ(slow_step.at(29), 0.1);
  EXPECT_NEAR(slow_step.at(30), 0.01, 1e-15);

  const auto cosine = schedule(medadv::ScheduleKind::Cosine);
  EXPECT_DOUBLE_EQ(cosine.at(0), 0.1);
  EXPECT_NEAR(cosine.at(10), 0.1 * (1 + std::sqrt(0.5)) / 2, 1e-12);  // cos(pi/4)
  EXPECT_NEAR(cosine.at(20), 0.05, 1e-12);
  EXPECT_NEAR(cosine.at(30), 0.1 * (1 - std::sqrt(0.5)) / 2, 1e-12);

  const auto cyclic = schedule(medadv::ScheduleKind::Cyclic);  // 0.004 -> 0.1 at t = 20 -> 0.004
  EXPECT_NEAR(cyclic.at(0), 0.004, 1e-12);
  EXPECT_NEAR(cyclic.at(10), 0.052, 1e-12);
  EXPECT_NEAR(cyclic.at(20), 0.1, 1e-12);
  EXPECT_NEAR(cyclic.at(30), 0.052, 1e-12);
  EXPECT_NEAR(cyclic.at(40), 0.004, 1e-12);
}

TEST(Augment, FlipsAndQuarterTurnsAreExact) {
  const std::int64_t B = 64;
  const auto x = medadv::testing::random_images(B, 3, 8, 1);
  auto gen = medadv::compat::cpu_generator(2);
  medadv::AugmentOptions a;
  a.hflip = true;
  auto out = medadv::augment(x, a, gen);
  ASSERT_EQ(out.sizes(), x.sizes());
  int flipped = 0, kept = 0;
  for (std::int64_t i = 0; i < B; ++i) {
    const bool same = torch::equal(out[i], x[i]), mirrored = torch::equal(out[i], x[i].flip({2}));
    EXPECT_TRUE(same || mirrored) << i;
    flipped += mirrored;
    kept += same;
  }
  EXPECT_GT(flipped, 10);
  EXPECT_GT(kept, 10);

  a = {};
  a.vflip = true;
  out = medadv::augment(x, a, gen);
  for (std::int64_t i = 0; i < B; ++i)
    EXPECT_TRUE(torch::equal(out[i], x[i]) || torch::equal(out[i], x[i].flip({1}))) << i;

  a = {};
  a.rot90 = true;
  out = medadv::augment(x, a, gen);
  std::vector<int> turns(4, 0);
  for (std::int64_t i = 0; i < B; ++i) {
    int match = -1;
    for (int k = 0; k < 4; ++k)
      if (torch::equal(out[i], torch::rot90(x[i], k, {1, 2}))) match = k;
    ASSERT_GE(match, 0) << "sample " << i << " is no quarter turn of its input";
    ++turns[match];
  }
  for (int k = 0; k < 4; ++k) EXPECT_GT(turns[k], 3) << k;
}

TEST(Augment, RandomCropIsAShiftOfTheZeroPaddedImage) {
  const std::int64_t B = 16, p = 2, S = 8;
  const auto x = medadv::testing::random_images(B, 2, S, 3) + 0.01;  // no exact zeros inside
  auto gen = medadv::compat::cpu_generator(4);
  medadv::AugmentOptions a;
  a.crop_padding = p;
  const auto out = medadv::augment(x, a, gen);
  ASSERT_EQ(out.sizes(), x.sizes());
  const auto padded = torch::constant_pad_nd(x, {p, p, p, p}, 0);
  int shifted = 0;
  for (std::int64_t i = 0; i < B; ++i) {
    bool found = false;
    for (std::int64_t dy = 0; dy <= 2 * p && !found; ++dy)
      for (std::int64_t dx = 0; dx <= 2 * p && !found; ++dx)
        if (torch::equal(out[i], padded[i].slice(1, dy, dy + S).slice(2, dx, dx + S))) {
          found = true;
          shifted += dy != p || dx != p;
        }
    EXPECT_TRUE(found) << "sample " << i;
  }
  EXPECT_GT(shifted, 8);
}

TEST(Augment, KeepsShapeAndRangeAndMovesMasksAlike) {
  const std::int64_t B = 32;
  const auto x = medadv::testing::random_images(B, 3, 16, 5);
  auto masks = (x.slice(1, 0, 1) > 0.5).to(torch::kFloat);
  medadv::AugmentOptions geometric;
  geometric.hflip = geometric.vflip = geometric.rot90 = true;
  geometric.crop_padding = 3;
  auto gen = medadv::compat::cpu_generator(6);
  auto moved = masks.clone();
  const auto out = medadv::augment(x, geometric, gen, &moved);
  ASSERT_EQ(out.sizes(), x.sizes());
  ASSERT_EQ(moved.sizes(), masks.sizes());
  // Thresholding commutes with flips, quarter turns and zero-padded shifts.
  EXPECT_TRUE(torch::equal(moved, (out.slice(1, 0, 1) > 0.5).to(torch::kFloat)));

  medadv::AugmentOptions all = geometric;
  all.rotation = 20.0;
  auto rotated_masks = masks.clone();
  const auto rotated = medadv::augment(x, all, gen, &rotated_masks);
  ASSERT_EQ(rotated.sizes(), x.sizes());
  EXPECT_GE(rotated.min().item<double>(), 0.0);
  EXPECT_LE(rotated.max().item<double>(), x.max().item<double>() + 1e-6);
  EXPECT_TRUE(torch::equal(rotated_masks, (rotated_masks > 0.5).to(torch::kFloat))) << "masks stay 0/1";
  EXPECT_FALSE(torch::equal(rotated, x));

  // Same generator seed, same batch.
  auto g1 = medadv::compat::cpu_generator(9), g2 = medadv::compat::cpu_generator(9);
  EXPECT_TRUE(torch::equal(medadv::augment(x, all, g1), medadv::augment(x, all, g2)));
  EXPECT_TRUE(torch::equal(medadv::augment(x, medadv::AugmentOptions{}, g1), x));
}

TEST(ClassWeights, AreInverseFrequencies) {
  const auto labels = torch::tensor({0, 0, 0, 1, 1, 2}, torch::kInt64);
  const auto w = medadv::class_weights(labels, 4);
  ASSERT_EQ(w.numel(), 4);
  // N / (K n_c) = 6 / (4 * 3), 6 / (4 * 2), 6 / (4 * 1); an absent class gets 0.
  EXPECT_NEAR(w[0].item<double>(), 0.5, 1e-7);
  EXPECT_NEAR(w[1].item<double>(), 0.75, 1e-7);
  EXPECT_NEAR(w[2].item<double>(), 1.5, 1e-7);
  EXPECT_EQ(w[3].item<double>(), 0.0);
  // Inverse frequencies: w_c n_c is the same for every present class.
  EXPECT_NEAR(w[0].item<double>() * 3, w[2].item<double>() * 1, 1e-6);
}

TEST(BceDiceLoss, MatchesTheFormulaByHand) {
  // One sample, two pixels: logits (0, 2), mask (1, 0).
  const auto logits = torch::tensor({0.0f, 2.0f}).view({1, 1, 1, 2});
  const auto masks = torch::tensor({1.0f, 0.0f}).view({1, 1, 1, 2});
  const double p0 = 0.5, p1 = 1.0 / (1.0 + std::exp(-2.0));
  const double bce = (-std::log(p0) - std::log(1.0 - p1)) / 2.0;
  const double dice = (2.0 * p0 * 1.0 + 1.0) / (p0 + p1 + 1.0 + 1.0);
  EXPECT_NEAR(medadv::bce_dice_loss(logits, masks).item<double>(), bce + 1.0 - dice, 1e-6);
  EXPECT_THROW(medadv::bce_dice_loss(logits, masks.view({1, 1, 2, 1})), medadv::InvalidInput);
}

TEST(TrainModel, UsesTheGivenBatchLossOncePerBatch) {
  // 50 samples in batches of 16: 3 full batches and one of 2. With 49 the trailing
  // single sample is skipped (batch norm cannot train on one).
  for (const auto& [n, batches] : std::vector<std::pair<std::int64_t, std::int64_t>>{{50, 4}, {49, 3}}) {
    auto set = bright_versus_dark(n, 8, 1);
    auto model = small_cnn(set.spec, 4);
    std::int64_t calls = 0, samples = 0;
    const medadv::BatchLoss loss = [&](medadv::TappedModule& m, const torch::Tensor& x, const torch::Tensor& y) {
      ++calls;
      samples += x.size(0);
      EXPECT_TRUE(m.is_training());
      return torch::nn::functional::cross_entropy(m.forward(x), y);
    };
    medadv::testing::TestContext ctx(0);
    const auto report = medadv::train_model(*model, set, quick_options(2), ctx, &loss);
    EXPECT_EQ(calls, 2 * batches) << n;
    EXPECT_EQ(samples, 2 * (batches == 4 ? 50 : 48)) << n;
    EXPECT_EQ(report.epochs.size(), 2u);
    EXPECT_FALSE(model->is_training());
  }
}

TEST(TrainModel, EarlyStoppingStopsAndKeepsTheBestEpoch) {
  // The val split is the train images with their labels swapped: the better the model
  // learns the train split, the worse its val loss. The run must stop after `patience`
  // epochs without improvement and hold the weights of the best epoch.
  auto set = bright_versus_dark(64, 8, 2);
  const medadv::Batch train = set.train.all(torch::kCPU);
  set.val = medadv::testing::sample_set(train.images.clone(), 1 - train.labels);
  auto model = small_cnn(set.spec, 4);
  auto o = quick_options(15);
  o.early_stopping = 2;
  medadv::testing::TestContext ctx(0);
  const auto report = medadv::train_model(*model, set, o, ctx);
  ASSERT_TRUE(report.stopped_early);
  ASSERT_GE(report.best_epoch, 1);
  EXPECT_EQ(static_cast<std::int64_t>(report.epochs.size()), report.best_epoch + o.early_stopping);
  double lowest = std::numeric_limits<double>::infinity();
  for (const auto& e : report.epochs) lowest = std::min(lowest, e.val.loss);
  EXPECT_EQ(report.epochs[report.best_epoch - 1].val.loss, lowest);
  EXPECT_LT(lowest, report.epochs.back().val.loss);
  EXPECT_EQ(report.val.loss, lowest);
  // The model holds the best epoch's weights: evaluating again gives its val loss.
  const auto again = medadv::evaluate_model(*model, set.val, set.spec, ctx);
  EXPECT_NEAR(again.loss, lowest, 1e-5);
}

TEST(TrainModel, SameSeedGivesIdenticalWeights) {
  const auto set = bright_versus_dark(40, 8, 3);
  auto o = quick_options(2);
  o.augment.hflip = true;
  o.augment.crop_padding = 1;
  auto run = [&](std::uint64_t seed) {
    auto model = small_cnn(set.spec, 4, /*init seed*/ 0);
    medadv::testing::TestContext ctx(seed);
    medadv::train_model(*model, set, o, ctx);
    return model;
  };
  auto a = run(7), b = run(7), c = run(8);
  EXPECT_TRUE(same_weights(*a, *b));
  EXPECT_FALSE(same_weights(*a, *c));
}

TEST(TrainModel, SmallCnnLearnsPhantomFundusWithTheDefaultOptions) {
  const auto start = std::chrono::steady_clock::now();
  medadv::testing::TestContext ctx(0);
  medadv::ParamSchema schema;
  medadv::plugins::phantom::PhantomFundus::schema(schema);
  // At 32 px the default lesions are sub-pixel (a microaneurysm's radius is 0.2 to 0.4 px),
  // which hides most mild (grade 1) cases; lesion_scale 3 draws them as 64 px shows them
  // with room to spare.
  medadv::plugins::phantom::PhantomFundus fundus(
      schema.resolve_or_throw(Value(Value::Table{{"image_size", 32}, {"count", 600}, {"lesion_scale", 3.0}}),
                              "phantom-fundus"),
      ctx);
  const auto data = fundus.open(ctx);
  const auto splits = medadv::make_splits(*data, medadv::SplitPlan{}, ctx.seed());
  const auto generated = std::chrono::steady_clock::now();

  TrainingSet set;
  set.spec = classifier_spec(3, 2, 32);
  set.train = medadv::SampleSet(data, splits.at("train"));
  set.val = medadv::SampleSet(data, splits.at("val"));
  auto model = small_cnn(set.spec, 16);
  const auto report = medadv::train_model(*model, set, TrainOptions{}, ctx);
  const auto test = medadv::evaluate_model(*model, medadv::SampleSet(data, splits.at("test")), set.spec, ctx);
  const auto end = std::chrono::steady_clock::now();
  std::cout << "[training] phantom-fundus 32 px: data " << std::chrono::duration<double>(generated - start).count()
            << " s, training " << report.seconds << " s (" << report.epochs.size() << " epochs); val accuracy "
            << report.val.accuracy << ", test accuracy " << test.accuracy << " auc " << test.auc << " (n=" << test.samples
            << ")\n";
  EXPECT_EQ(test.samples, 120);
  EXPECT_GE(test.accuracy, 0.90);
  EXPECT_GE(test.auc, 0.95);
  EXPECT_LT(std::chrono::duration<double>(end - start).count(), 600.0);  // a hang guard, not a benchmark
}

TEST(TrainModel, SmallUnetSegmentsPhantomXrayLungFields) {
  medadv::testing::TestContext ctx(0);
  medadv::ParamSchema schema;
  medadv::plugins::phantom::PhantomXray::schema(schema);
  medadv::plugins::phantom::PhantomXray xray(
      schema.resolve_or_throw(
          Value(Value::Table{{"image_size", 32}, {"count", 200}, {"task", "segmentation"}}), "phantom-xray"),
      ctx);
  const auto data = xray.open(ctx);
  ASSERT_EQ(data->meta().task, medadv::Task::Segmentation);
  const auto splits = medadv::make_splits(*data, medadv::SplitPlan{}, ctx.seed());

  ModelSpec spec;
  spec.task = medadv::Task::Segmentation;
  spec.channels = data->item_shape()[0];
  spec.num_classes = 1;
  spec.image_size = 32;
  medadv::ParamSchema unet_schema;
  medadv::plugins::segmentation::UNetPlugin::schema(unet_schema);
  medadv::plugins::segmentation::UNetPlugin plugin(
      unet_schema.resolve_or_throw(Value(Value::Table{{"base_width", 8}}), "unet"), ctx);
  auto model = plugin.build(spec);

  TrainingSet set;
  set.spec = spec;
  set.train = medadv::SampleSet(data, splits.at("train"));
  TrainOptions o;  // loss auto: bce_dice for one logit per pixel
  const auto report = medadv::train_model(*model, set, o, ctx);
  const auto test = medadv::evaluate_model(*model, medadv::SampleSet(data, splits.at("test")), spec, ctx);
  std::cout << "[training] unet (base_width 8) on phantom-xray lungs 32 px: " << report.seconds << " s, test dice "
            << test.dice << " (n=" << test.samples << ")\n";
  EXPECT_TRUE(std::isnan(test.accuracy));
  EXPECT_GE(test.dice, 0.85);
}
