// The small-cnn model plugin: shapes and taps, input normalisation, refusals, and a
// quick check that it learns a trivially separable task.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <medadv/testing.h>
#include <medadv/torch_compat.h>

#include "models/small-cnn/small_cnn.h"
#include "support/test_support.h"

namespace {

using medadv::ModelSpec;
using medadv::plugins::small_cnn::SmallCnn;
using medadv::plugins::small_cnn::SmallCnnPlugin;

medadv::Params plugin_params(medadv::Value::Table overrides = {}) {
  medadv::ParamSchema s;
  SmallCnnPlugin::schema(s);
  return s.resolve_or_throw(medadv::Value(std::move(overrides)), "small-cnn");
}

std::shared_ptr<medadv::TappedModule> build(const ModelSpec& spec, medadv::Value::Table overrides = {},
                                            std::uint64_t seed = 0) {
  medadv::testing::TestContext ctx(seed);
  SmallCnnPlugin plugin(plugin_params(std::move(overrides)), ctx);
  return plugin.build(spec);
}



}  // namespace

TEST(SmallCnn, SchemaDefaultsAndRanges) {
  const auto p = plugin_params();
  EXPECT_EQ(p.get_int("width"), 16);
  EXPECT_EQ(p.get_float("dropout"), 0.0);
  EXPECT_THROW(plugin_params({{"width", 2}}), medadv::ValidationError);
  EXPECT_THROW(plugin_params({{"dropout", 1.0}}), medadv::ValidationError);
  EXPECT_THROW(plugin_params({{"dropout", -0.1}}), medadv::ValidationError);
  EXPECT_NO_THROW(plugin_params({{"width", 4}, {"dropout", 0.5}}));
}

TEST(SmallCnn, LogitsAndEveryTapHaveTheBatchDimension) {
  const std::int64_t batch = 3, classes = 5;
  for (std::int64_t size : {32, 48}) {
    for (std::int64_t channels : {1, 3}) {
      SCOPED_TRACE("size " + std::to_string(size) + ", channels " + std::to_string(channels));
      auto model = build(medadv::testing::model_spec(channels, classes, size));
      model->eval();
      const auto taps = model->tap_names();
      ASSERT_EQ(taps, (std::vector<std::string>{"block1", "block2", "block3", "penultimate", "logits"}));
      const auto x = medadv::testing::random_images(batch, channels, size, 1);
      const auto out = model->forward_taps(x, taps);
      EXPECT_EQ(out.logits.sizes(), (std::vector<std::int64_t>{batch, classes}));
      for (const auto& t : taps) {
        ASSERT_EQ(out.taps.count(t), 1u) << t;
        EXPECT_EQ(out.taps.at(t).size(0), batch) << t;
      }
      EXPECT_EQ(out.tap("block1").sizes(), (std::vector<std::int64_t>{batch, 16, size / 2, size / 2}));
      EXPECT_EQ(out.tap("block2").sizes(), (std::vector<std::int64_t>{batch, 32, size / 4, size / 4}));
      EXPECT_EQ(out.tap("block3").sizes(), (std::vector<std::int64_t>{batch, 64, size / 8, size / 8}));
      EXPECT_EQ(out.tap("penultimate").sizes(), (std::vector<std::int64_t>{batch, 64}));
      EXPECT_TRUE(torch::equal(out.tap("logits"), out.logits));
      // Taps only when asked for.
      EXPECT_TRUE(model->forward_taps(x, {}).taps.empty());
      EXPECT_TRUE(torch::allclose(model->forward(x), out.logits));
    }
  }
}

TEST(SmallCnn, WidthParameterAndSmallestImage) {
  auto model = build(medadv::testing::model_spec(2, 4, 8), {{"width", 4}});
  model->eval();
  const auto out = model->forward_taps(medadv::testing::random_images(2, 2, 8), {"block3", "penultimate"});
  EXPECT_EQ(out.tap("block3").sizes(), (std::vector<std::int64_t>{2, 16, 1, 1}));
  EXPECT_EQ(out.tap("penultimate").sizes(), (std::vector<std::int64_t>{2, 16}));
  EXPECT_EQ(out.logits.sizes(), (std::vector<std::int64_t>{2, 4}));
  EXPECT_THROW(build(medadv::testing::model_spec(1, 2, 7)), medadv::InvalidInput);
}

TEST(SmallCnn, UnknownTapThrowsNamingTheAvailableOnes) {
  auto model = build(medadv::testing::model_spec(1, 2, 16));
  const auto x = medadv::testing::random_images(1, 1, 16);
  EXPECT_THROW(model->forward_taps(x, {"blokc2"}), medadv::Error);
  const auto what = error_of([&] { model->forward_taps(x, {"logits", "blokc2"}); });
  EXPECT_NE(what.find("'blokc2'"), std::string::npos) << what;
  EXPECT_NE(what.find("block1, block2, block3, penultimate, logits"), std::string::npos) << what;
}

TEST(SmallCnn, WrongMeanOrStdSizeIsInvalidInput) {
  auto spec = medadv::testing::model_spec(3, 2, 16);
  spec.mean = {0.5};
  EXPECT_THROW(build(spec), medadv::InvalidInput);
  const auto what = error_of([&] { build(spec); });
  EXPECT_NE(what.find("expected 3"), std::string::npos) << what;
  spec.mean = {0.4, 0.5, 0.6};
  EXPECT_NO_THROW(build(spec));
  spec.std = {0.2, 0.2};
  EXPECT_THROW(build(spec), medadv::InvalidInput);
  spec.std = {0.2, 0.0, 0.2};
  EXPECT_THROW(build(spec), medadv::InvalidInput);
}

TEST(SmallCnn, SegmentationIsRefused) {
  auto spec = medadv::testing::model_spec(1, 2, 32);
  spec.task = medadv::Task::Segmentation;
  EXPECT_THROW(build(spec), medadv::InvalidInput);
  EXPECT_NE(error_of([&] { build(spec); }).find("small-cnn is a classifier; use unet"), std::string::npos);
}

TEST(SmallCnn, NormalisesWithSpecMeanAndStd) {
  // Same weights (same seed); one model normalises with mean 0.2, std 0.1, the other
  // with the defaults 0.5 / 0.5. Inputs mapped to the same normalised values must give
  // the same logits.
  auto spec = medadv::testing::model_spec(1, 3, 16);
  auto plain = build(spec, {}, 5);
  spec.mean = {0.2};
  spec.std = {0.1};
  auto custom = build(spec, {}, 5);
  plain->eval();
  custom->eval();
  const auto x = medadv::testing::random_images(4, 1, 16, 3);
  const auto mapped = 0.2 + 0.1 * (x - 0.5) / 0.5;
  EXPECT_TRUE(torch::allclose(plain->forward(x), custom->forward(mapped), 1e-4, 1e-5));
  EXPECT_FALSE(torch::allclose(plain->forward(x), custom->forward(x), 1e-4, 1e-5));
}

TEST(SmallCnn, InitialWeightsFollowTheRunSeed) {
  const auto spec = medadv::testing::model_spec(3, 2, 16);
  auto a = build(spec, {}, 11);
  auto b = build(spec, {}, 11);
  auto c = build(spec, {}, 12);
  const auto pa = a->parameters(), pb = b->parameters(), pc = c->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  bool all_same_c = true;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pb[i]));
    all_same_c = all_same_c && torch::equal(pa[i], pc[i]);
  }
  EXPECT_FALSE(all_same_c);
  // Two builds of one plugin instance start from different weights.
  medadv::testing::TestContext ctx(11);
  SmallCnnPlugin plugin(plugin_params(), ctx);
  auto first = plugin.build(spec), second = plugin.build(spec);
  EXPECT_TRUE(torch::equal(first->parameters()[0], pa[0]));
  EXPECT_FALSE(torch::equal(first->parameters()[0], second->parameters()[0]));
}

TEST(SmallCnn, DropoutOnlyInTraining) {
  auto model = build(medadv::testing::model_spec(1, 2, 16), {{"dropout", 0.5}});
  const auto x = medadv::testing::random_images(8, 1, 16, 4);
  model->eval();
  EXPECT_TRUE(torch::equal(model->forward(x), model->forward(x)));
}

TEST(SmallCnn, LearnsBrightVersusDark) {
  // 1x16x16 images: dark ones in [0, 0.4], bright ones in [0.6, 1] (per-pixel uniform),
  // alternating labels. A few hundred SGD steps must separate them.
  const std::int64_t n = 128;
  auto gen = medadv::compat::cpu_generator(21);
  const auto labels = torch::arange(n) % 2;
  const auto base = labels.to(torch::kFloat).mul(0.6).view({n, 1, 1, 1});
  const auto images = base + 0.4 * torch::rand({n, 1, 16, 16}, gen);

  auto model = build(medadv::testing::model_spec(1, 2, 16), {{"width", 8}}, 3);
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  const auto start = std::chrono::steady_clock::now();
  model->train();
  const std::int64_t steps = 200, batch = 32;
  for (std::int64_t step = 0; step < steps; ++step) {
    const auto idx = torch::randint(0, n, {batch}, gen);
    const auto loss = torch::nn::functional::cross_entropy(model->forward(images.index_select(0, idx)),
                                                           labels.index_select(0, idx));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  model->eval();
  torch::NoGradGuard no_grad;
  const double accuracy = model->forward(images).argmax(1).eq(labels).to(torch::kFloat).mean().item<double>();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[small-cnn] train accuracy " << accuracy << " after " << steps << " SGD steps in " << seconds
            << " s\n";
  EXPECT_GE(accuracy, 0.95);
}
