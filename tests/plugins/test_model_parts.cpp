// The SDK's model parts (medadv/model_parts.h) that every model plugin uses: spec
// checks, unknown-tap errors, the input normalisation and its buffers, the tap
// collector, seeded initialisation and per-build seeds.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include <medadv/error.h>
#include <medadv/model_parts.h>
#include <medadv/testing.h>
#include "support/test_support.h"

namespace {



// A module holding nothing but an input normalisation.
struct Normalised : torch::nn::Module {
  explicit Normalised(const medadv::ModelSpec& spec) : normalize(*this, "probe", spec) {}
  medadv::InputNormalization normalize;
};

}  // namespace

TEST(ModelParts, RequireKnownTapsNamesTheTapASuggestionAndTheAvailableOnes) {
  const std::vector<std::string> available{"block1", "block2", "penultimate", "logits"};
  EXPECT_NO_THROW(medadv::require_known_taps("net", {"logits", "block2"}, available));
  EXPECT_NO_THROW(medadv::require_known_taps("net", {}, available));
  EXPECT_THROW(medadv::require_known_taps("net", {"block3x"}, available), medadv::Error);
  const auto what = error_of([&] { medadv::require_known_taps("net", {"logits", "penultimat"}, available); });
  EXPECT_EQ(what,
            "net has no tap 'penultimat' (did you mean 'penultimate'?); available taps: block1, block2, "
            "penultimate, logits");
}

TEST(ModelParts, CheckModelSpec) {
  using medadv::Task;
  EXPECT_NO_THROW(medadv::check_model_spec("net", medadv::testing::model_spec(1, 2, 16), Task::Classification, 16, "pooling"));
  EXPECT_EQ(error_of([] { medadv::check_model_spec("net", medadv::testing::model_spec(1, 2, 15), Task::Classification, 16, "pooling"); }),
            "net: image_size must be >= 16 (pooling), got 15");
  EXPECT_THROW(medadv::check_model_spec("net", medadv::testing::model_spec(0, 2, 16), Task::Classification, 16, ""), medadv::InvalidInput);
  EXPECT_THROW(medadv::check_model_spec("net", medadv::testing::model_spec(1, 0, 16), Task::Classification, 16, ""), medadv::InvalidInput);
  // A segmentation model asked for a classification spec, and the other way round.
  EXPECT_NE(error_of([] {
              medadv::check_model_spec("seg", medadv::testing::model_spec(1, 2, 16), Task::Segmentation, 16, "");
            }).find("seg is a segmentation model; use a classifier"),
            std::string::npos);
  auto segmentation = medadv::testing::model_spec(1, 2, 16);
  segmentation.task = Task::Segmentation;
  EXPECT_NE(error_of([&] {
              medadv::check_model_spec("cls", segmentation, Task::Classification, 16, "");
            }).find("cls is a classifier; use unet or segnet"),
            std::string::npos);
}

TEST(ModelParts, PerChannelValuesAreValidated) {
  using medadv::InputNormalization;
  EXPECT_EQ(InputNormalization::per_channel("m", {}, 0.5, 3, "mean"), (std::vector<double>{0.5, 0.5, 0.5}));
  EXPECT_EQ(InputNormalization::per_channel("m", {0.1, 0.2}, 0.5, 2, "mean"), (std::vector<double>{0.1, 0.2}));
  EXPECT_EQ(error_of([] { InputNormalization::per_channel("m", {0.1}, 0.5, 3, "mean"); }),
            "m: spec.mean has 1 value(s); expected 3 (one per input channel)");
  EXPECT_THROW(InputNormalization::per_channel("m", {0.2, 0.0}, 0.5, 2, "std"), medadv::InvalidInput);
  EXPECT_THROW(InputNormalization::per_channel("m", {0.2, -1.0}, 0.5, 2, "std"), medadv::InvalidInput);
  EXPECT_THROW(InputNormalization::per_channel("m", {NAN}, 0.5, 1, "mean"), medadv::InvalidInput);
  // A negative mean is legitimate.
  EXPECT_NO_THROW(InputNormalization::per_channel("m", {-0.5}, 0.5, 1, "mean"));
}

TEST(ModelParts, InputNormalizationLivesInBuffersThatMoveAndCheckpoint) {
  auto spec = medadv::testing::model_spec(2, 2, 8);
  spec.mean = {0.25, 0.75};
  spec.std = {0.5, 0.25};
  auto model = std::make_shared<Normalised>(spec);
  const auto buffers = model->named_buffers();
  ASSERT_TRUE(buffers.contains("input_mean"));
  ASSERT_TRUE(buffers.contains("input_std"));
  EXPECT_TRUE(torch::equal(buffers["input_mean"].flatten(), torch::tensor({0.25f, 0.75f})));

  // (x - mean) / std by hand: channel 0 -> (1 - 0.25) / 0.5 = 1.5, channel 1 -> (1 - 0.75) / 0.25 = 1.
  const auto y = model->normalize(torch::ones({1, 2, 2, 2}));
  EXPECT_TRUE(torch::allclose(y[0][0], torch::full({2, 2}, 1.5)));
  EXPECT_TRUE(torch::allclose(y[0][1], torch::full({2, 2}, 1.0)));
  EXPECT_THROW(model->normalize(torch::ones({1, 3, 2, 2})), medadv::InvalidInput);

  // .to() converts the very tensors the normalisation uses.
  model->to(torch::kDouble);
  EXPECT_EQ(model->normalize.mean().scalar_type(), torch::kDouble);
  EXPECT_EQ(model->normalize(torch::ones({1, 2, 2, 2}, torch::kDouble)).scalar_type(), torch::kDouble);
  model->to(torch::kFloat);

  // A checkpoint restores the values into a model built with the defaults.
  std::stringstream stream;
  torch::save(model, stream);
  auto restored = std::make_shared<Normalised>(medadv::testing::model_spec(2, 2, 8));
  EXPECT_TRUE(torch::allclose(restored->normalize(torch::ones({1, 2, 1, 1})).flatten(), torch::tensor({1.0f, 1.0f})));
  torch::load(restored, stream);
  EXPECT_TRUE(torch::allclose(restored->normalize(torch::ones({1, 2, 1, 1})).flatten(), torch::tensor({1.5f, 1.0f})));
}

TEST(ModelParts, TapCollectorKeepsWhatWasAskedFor) {
  medadv::TapCollector taps("net", {"b", "logits"}, {"a", "b", "logits"});
  EXPECT_FALSE(taps.wants("a"));
  EXPECT_TRUE(taps.wants("b"));
  taps.offer("a", torch::zeros({1}));
  taps.offer("b", torch::ones({1}));
  const auto out = taps.finish(torch::full({1, 2}, 3.0));
  EXPECT_EQ(out.taps.size(), 2u);
  EXPECT_TRUE(torch::equal(out.tap("b"), torch::ones({1})));
  EXPECT_TRUE(torch::equal(out.tap("logits"), out.logits));
  EXPECT_THROW(medadv::TapCollector("net", {"c"}, {"a", "b"}), medadv::Error);
  medadv::TapCollector none("net", {}, {"a"});
  none.offer("a", torch::zeros({1}));
  EXPECT_TRUE(none.finish(torch::zeros({1, 1})).taps.empty());
}

TEST(ModelParts, FanInAndFanOutFollowPyTorch) {
  using medadv::SeededInit;
  const auto conv = torch::empty({8, 3, 5, 5});        // out, in, kh, kw
  const auto transposed = torch::empty({6, 4, 2, 2});  // in, out, kh, kw: PyTorch still reads dim 1 as "in"
  const auto linear = torch::empty({10, 7});
  EXPECT_EQ(SeededInit::fan_in(conv), 75);
  EXPECT_EQ(SeededInit::fan_out(conv), 200);
  EXPECT_EQ(SeededInit::fan_in(transposed), 16);
  EXPECT_EQ(SeededInit::fan_out(transposed), 24);
  EXPECT_EQ(SeededInit::fan_in(linear), 7);
  EXPECT_EQ(SeededInit::fan_out(linear), 10);
}

TEST(ModelParts, SeededInitDrawsTheDocumentedDistributions) {
  medadv::SeededInit init(3);
  auto conv = torch::empty({256, 64, 3, 3});
  init.kaiming_normal_fan_out(conv);
  const double expected_std = std::sqrt(2.0 / (256 * 9));
  EXPECT_NEAR(conv.std().item<double>(), expected_std, 0.01 * expected_std);
  EXPECT_NEAR(conv.mean().item<double>(), 0.0, 0.01 * expected_std);

  auto weight = torch::empty({200, 400}), bias = torch::empty({200});
  init.torch_default(weight, &bias);
  const double bound = 1.0 / std::sqrt(400.0);
  EXPECT_LE(weight.abs().max().item<double>(), bound);
  EXPECT_GT(weight.abs().max().item<double>(), 0.99 * bound);
  EXPECT_LE(bias.abs().max().item<double>(), bound);
  // U(-b, b) has standard deviation b / sqrt(3).
  EXPECT_NEAR(weight.std().item<double>(), bound / std::sqrt(3.0), 0.01 * bound);

  // Same seed, same draws; the generator is local, so global torch::manual_seed does not matter.
  medadv::SeededInit a(11), b(11);
  auto ta = torch::empty({50}), tb = torch::empty({50});
  torch::manual_seed(1);
  a.normal(ta, 0.0, 1.0);
  torch::manual_seed(2);
  b.normal(tb, 0.0, 1.0);
  EXPECT_TRUE(torch::equal(ta, tb));
}

TEST(ModelParts, TorchvisionStyleInitialisesEveryLayerKind) {
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 16, 3).bias(true)),
                            torch::nn::BatchNorm2d(16), torch::nn::Linear(16, 4));
  auto* conv = net[0]->as<torch::nn::Conv2dImpl>();
  auto* bn = net[1]->as<torch::nn::BatchNorm2dImpl>();
  auto* fc = net[2]->as<torch::nn::LinearImpl>();
  {
    torch::NoGradGuard no_grad;
    bn->weight.fill_(3.0);
    conv->bias.fill_(1.0);
  }
  medadv::SeededInit(0).torchvision_style(*net, medadv::SeededInit::Linear::Normal001);
  EXPECT_TRUE(torch::equal(conv->bias, torch::zeros({16})));
  EXPECT_TRUE(torch::equal(bn->weight, torch::ones({16})));
  EXPECT_TRUE(torch::equal(bn->bias, torch::zeros({16})));
  EXPECT_TRUE(torch::equal(fc->bias, torch::zeros({4})));
  EXPECT_LT(fc->weight.abs().max().item<double>(), 0.06);    // N(0, 0.01): 64 draws stay within 6 sigma
  EXPECT_GT(conv->weight.abs().max().item<double>(), 0.06);  // N(0, sqrt(2/144) = 0.118)
}

TEST(ModelParts, BuildSeedsAreReproducibleAndDistinct) {
  medadv::testing::TestContext ctx(5), same(5), other(6);
  medadv::BuildSeeds a(ctx, "net"), b(same, "net"), c(other, "net"), d(ctx, "other-net");
  const auto a0 = a.next(), a1 = a.next();
  EXPECT_EQ(a0, medadv::derive_seed(ctx.seed_for("net/init"), "build/0"));
  EXPECT_EQ(a1, medadv::derive_seed(ctx.seed_for("net/init"), "build/1"));
  EXPECT_NE(a0, a1);
  EXPECT_EQ(b.next(), a0);
  EXPECT_NE(c.next(), a0);
  EXPECT_NE(d.next(), a0);
}
