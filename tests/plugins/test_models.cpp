// The model zoo (resnet18, resnet50, vgg16, vgg16-bn, mobilenetv2, wide-resnet-28-10,
// unet, segnet): every model, built through its plugin with tiny widths, at two image
// sizes and with 1 and 3 channels, against hand-computed tap shapes; tap order and
// completeness, unknown taps, seeded initialisation, gradients to the input; then what
// is particular to each family, with torchvision's published parameter counts as the
// oracle for the full-size architectures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <medadv/testing.h>

#include "models/mobilenetv2/mobilenetv2.h"
#include "models/resnet/resnet.h"
#include "models/segmentation/segnet.h"
#include "models/segmentation/unet.h"
#include "models/vgg/vgg.h"
#include "models/wide-resnet/wide_resnet.h"
#include "support/test_support.h"

namespace {

using medadv::ModelSpec;
using medadv::TappedModule;
using medadv::Task;
using Shape = std::vector<std::int64_t>;
// Every tap a model offers, in forward order, with its shape.
using ExpectedTaps = std::vector<std::pair<std::string, Shape>>;

template <class Plugin>
std::shared_ptr<TappedModule> build_with(medadv::Value::Table params, const ModelSpec& spec, std::uint64_t seed = 0) {
  medadv::ParamSchema schema;
  Plugin::schema(schema);
  const auto resolved = schema.resolve_or_throw(medadv::Value(std::move(params)), "test");
  medadv::testing::TestContext ctx(seed);
  Plugin plugin(resolved, ctx);
  return plugin.build(spec);
}



std::int64_t count_parameters(TappedModule& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// ceil(size / 2^k): the side of a map after k stride-2 layers (padding 1 or pooling of
// a padded map).
std::int64_t down(std::int64_t size, int k) { return (size + (std::int64_t{1} << k) - 1) >> k; }

// One row of the zoo: how to build a tiny instance and what its taps must be.
struct ZooModel {
  std::string name;
  Task task;
  std::vector<std::int64_t> sizes;
  std::function<std::shared_ptr<TappedModule>(const ModelSpec&, std::uint64_t)> build;
  std::function<ExpectedTaps(std::int64_t batch, std::int64_t size, std::int64_t classes)> taps;
};

// resnet18, width 4, CIFAR stem: stages of 4, 8, 16, 32 channels at S, S/2, S/4, S/8.
ExpectedTaps resnet18_taps(std::int64_t b, std::int64_t s, std::int64_t k) {
  ExpectedTaps t{{"stem", {b, 4, s, s}}};
  const std::int64_t widths[] = {4, 4, 8, 8, 16, 16, 32, 32};
  const int levels[] = {0, 0, 1, 1, 2, 2, 3, 3};
  for (int i = 0; i < 8; ++i)
    t.push_back({"block" + std::to_string(i + 1), {b, widths[i], down(s, levels[i]), down(s, levels[i])}});
  t.push_back({"penultimate", {b, 32}});
  t.push_back({"logits", {b, k}});
  return t;
}

// resnet50, width 8, CIFAR stem: bottlenecks with 8, 16, 32, 64 planes (x4 outputs);
// relu1 is at the block's input resolution (the stride sits in the 3x3 conv).
ExpectedTaps resnet50_taps(std::int64_t b, std::int64_t s, std::int64_t k) {
  ExpectedTaps t{{"stem", {b, 8, s, s}}};
  const int blocks[] = {3, 4, 6, 3};
  int index = 0;
  for (int stage = 0; stage < 4; ++stage) {
    const std::int64_t planes = 8 << stage;
    for (int j = 0; j < blocks[stage]; ++j) {
      const std::string name = "block" + std::to_string(++index);
      const std::int64_t in_side = down(s, (stage > 0 && j == 0) ? stage - 1 : stage), side = down(s, stage);
      t.push_back({name + ".relu1", {b, planes, in_side, in_side}});
      t.push_back({name + ".relu2", {b, planes, side, side}});
      t.push_back({name + ".relu3", {b, 4 * planes, side, side}});
      t.push_back({name, {b, 4 * planes, side, side}});
    }
  }
  t.push_back({"penultimate", {b, 256}});
  t.push_back({"logits", {b, k}});
  return t;
}

// vgg16, width 4, hidden 16: stages of 4, 8, 16, 32, 32 channels, each pooled by 2.
ExpectedTaps vgg16_taps(std::int64_t b, std::int64_t s, std::int64_t k) {
  ExpectedTaps t;
  const int convs[] = {2, 2, 3, 3, 3};
  const std::int64_t widths[] = {4, 8, 16, 32, 32};
  int relu = 0;
  for (int stage = 0; stage < 5; ++stage) {
    for (int c = 0; c < convs[stage]; ++c)
      t.push_back({"relu" + std::to_string(++relu), {b, widths[stage], s >> stage, s >> stage}});
    t.push_back({"block" + std::to_string(stage + 1), {b, widths[stage], s >> (stage + 1), s >> (stage + 1)}});
  }
  for (const char* name : {"fc_relu1", "fc_relu2", "penultimate"}) t.push_back({name, {b, 16}});
  t.push_back({"logits", {b, k}});
  return t;
}

// mobilenetv2, width_mult 0.25, CIFAR stem: torchvision's channels rounded to multiples
// of 8 (16*0.25 = 4 -> 8, 24*0.25 = 6 -> 8, 32*0.25 = 8, 64*0.25 = 16, 96*0.25 = 24,
// 160*0.25 = 40, 320*0.25 = 80); stage strides 1, 1 (CIFAR), 2, 2, 1, 2, 1.
ExpectedTaps mobilenetv2_taps(std::int64_t b, std::int64_t s, std::int64_t k) {
  const std::int64_t channels[] = {8, 8, 8, 8, 8, 8, 16, 16, 16, 16, 24, 24, 24, 40, 40, 40, 80};
  const int level[] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3};
  ExpectedTaps t;
  for (int i = 0; i < 17; ++i)
    t.push_back({"block" + std::to_string(i + 1), {b, channels[i], down(s, level[i]), down(s, level[i])}});
  t.push_back({"penultimate", {b, 1280}});
  t.push_back({"logits", {b, k}});
  return t;
}

// WRN-10-1: one block per stage, 16, 32, 64 channels at S, S/2, S/4.
ExpectedTaps wide_resnet_taps(std::int64_t b, std::int64_t s, std::int64_t k) {
  return {{"block1", {b, 16, s, s}},
          {"block2", {b, 32, down(s, 1), down(s, 1)}},
          {"block3", {b, 64, down(s, 2), down(s, 2)}},
          {"penultimate", {b, 64}},
          {"logits", {b, k}}};
}

// unet, base width 4: encoder 4, 8, 16, 32, bottleneck 64, decoder 32, 16, 8, 4; every
// map covers the image: ceil(S / stride).
ExpectedTaps unet_taps(std::int64_t b, std::int64_t s, std::int64_t k) {
  auto at = [&](std::int64_t c, int level) { return Shape{b, c, down(s, level), down(s, level)}; };
  return {{"enc1", at(4, 0)},  {"enc2", at(8, 1)},  {"enc3", at(16, 2)}, {"enc4", at(32, 3)}, {"bottleneck", at(64, 4)},
          {"dec1", at(32, 3)}, {"dec2", at(16, 2)}, {"dec3", at(8, 1)},  {"dec4", at(4, 0)},  {"logits", at(k, 0)}};
}

// segnet, base width 4: encoder 4, 8, 16, 32, bottleneck 32, decoder 16, 8, 4, 4.
ExpectedTaps segnet_taps(std::int64_t b, std::int64_t s, std::int64_t k) {
  auto at = [&](std::int64_t c, int level) { return Shape{b, c, down(s, level), down(s, level)}; };
  return {{"enc1", at(4, 0)},  {"enc2", at(8, 1)}, {"enc3", at(16, 2)}, {"enc4", at(32, 3)}, {"bottleneck", at(32, 4)},
          {"dec1", at(16, 3)}, {"dec2", at(8, 2)}, {"dec3", at(4, 1)},  {"dec4", at(4, 0)},  {"logits", at(k, 0)}};
}

std::vector<ZooModel> zoo() {
  using namespace medadv::plugins;
  return {
      {"resnet18",
       Task::Classification,
       {32, 48},
       [](const ModelSpec& s, std::uint64_t seed) {
         return build_with<resnet::ResNet18Plugin>({{"width", 4}}, s, seed);
       },
       resnet18_taps},
      {"resnet50",
       Task::Classification,
       {32, 48},
       [](const ModelSpec& s, std::uint64_t seed) {
         return build_with<resnet::ResNet50Plugin>({{"width", 8}}, s, seed);
       },
       resnet50_taps},
      {"vgg16",
       Task::Classification,
       {32, 64},
       [](const ModelSpec& s, std::uint64_t seed) {
         return build_with<vgg::Vgg16PlainPlugin>({{"width", 4}, {"hidden", 16}}, s, seed);
       },
       vgg16_taps},
      {"vgg16-bn",
       Task::Classification,
       {32, 64},
       [](const ModelSpec& s, std::uint64_t seed) {
         return build_with<vgg::Vgg16BnPlugin>({{"width", 4}, {"hidden", 16}}, s, seed);
       },
       vgg16_taps},
      {"mobilenetv2",
       Task::Classification,
       {32, 48},
       [](const ModelSpec& s, std::uint64_t seed) {
         return build_with<mobilenetv2::MobileNetV2Plugin>({{"width_mult", 0.25}}, s, seed);
       },
       mobilenetv2_taps},
      {"wide-resnet-28-10",
       Task::Classification,
       {32, 48},
       [](const ModelSpec& s, std::uint64_t seed) {
         return build_with<wide_resnet::WideResNetPlugin>({{"depth", 10}, {"widen_factor", 1}}, s, seed);
       },
       wide_resnet_taps},
      {"unet",
       Task::Segmentation,
       {32, 40},
       [](const ModelSpec& s, std::uint64_t seed) {
         return build_with<segmentation::UNetPlugin>({{"base_width", 4}}, s, seed);
       },
       unet_taps},
      {"segnet",
       Task::Segmentation,
       {32, 40},
       [](const ModelSpec& s, std::uint64_t seed) {
         return build_with<segmentation::SegNetPlugin>({{"base_width", 4}}, s, seed);
       },
       segnet_taps},
  };
}

// gtest prints a parameter of a failing test with this.
void PrintTo(const ZooModel& m, std::ostream* os) { *os << m.name; }

class Zoo : public ::testing::TestWithParam<ZooModel> {};

std::string zoo_name(const ::testing::TestParamInfo<ZooModel>& info) {
  std::string name;
  for (char c : info.param.name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

}  // namespace

TEST_P(Zoo, EveryTapInForwardOrderWithItsShape) {
  const auto& m = GetParam();
  const std::int64_t batch = 2, classes = 3;
  for (std::int64_t size : m.sizes) {
    for (std::int64_t channels : {1, 3}) {
      SCOPED_TRACE(m.name + ": size " + std::to_string(size) + ", channels " + std::to_string(channels));
      auto model = m.build(medadv::testing::model_spec(channels, classes, size, m.task), 0);
      model->eval();
      const auto expected = m.taps(batch, size, classes);
      std::vector<std::string> expected_names;
      for (const auto& [name, shape] : expected) expected_names.push_back(name);
      ASSERT_EQ(model->tap_names(), expected_names);

      const auto x = medadv::testing::random_images(batch, channels, size, 1);
      torch::NoGradGuard no_grad;
      const auto out = model->forward_taps(x, expected_names);
      EXPECT_EQ(out.taps.size(), expected.size());
      for (const auto& [name, shape] : expected) EXPECT_EQ(out.tap(name).sizes(), c10::IntArrayRef(shape)) << name;
      EXPECT_EQ(out.logits.sizes(), c10::IntArrayRef(expected.back().second));
      EXPECT_TRUE(torch::equal(out.tap("logits"), out.logits));
      EXPECT_TRUE(torch::isfinite(out.logits).all().item<bool>());
      // Taps only when asked for, and the same logits either way.
      const auto plain = model->forward_taps(x, {});
      EXPECT_TRUE(plain.taps.empty());
      EXPECT_TRUE(torch::allclose(plain.logits, out.logits, 1e-5, 1e-6));
      EXPECT_TRUE(torch::allclose(model->forward(x), out.logits, 1e-5, 1e-6));
    }
  }
}

TEST_P(Zoo, UnknownTapIsAnErrorNamingItAndTheAvailableTaps) {
  const auto& m = GetParam();
  auto model = m.build(medadv::testing::model_spec(1, 2, m.sizes.front(), m.task), 0);
  const auto x = medadv::testing::random_images(1, 1, m.sizes.front());
  const auto names = model->tap_names();
  const std::string typo = names.front() + "x";
  EXPECT_THROW(model->forward_taps(x, {"logits", typo}), medadv::Error);
  const auto what = error_of([&] { model->forward_taps(x, {"logits", typo}); });
  EXPECT_NE(what.find(m.name + " has no tap '" + typo + "'"), std::string::npos) << what;
  EXPECT_NE(what.find("did you mean '" + names.front() + "'"), std::string::npos) << what;
  EXPECT_NE(what.find("available taps: " + names.front() + ", "), std::string::npos) << what;
  EXPECT_NE(what.find(", logits"), std::string::npos) << what;
}

TEST_P(Zoo, InitialWeightsFollowTheSeed) {
  const auto& m = GetParam();
  const auto spec = medadv::testing::model_spec(3, 2, m.sizes.front(), m.task);
  auto a = m.build(spec, 7), b = m.build(spec, 7), c = m.build(spec, 8);
  const auto pa = a->named_parameters(), pb = b->named_parameters(), pc = c->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  ASSERT_GT(pa.size(), 0u);
  std::size_t differing = 0;
  for (const auto& p : pa) {
    EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
    if (!torch::equal(p.value(), pc[p.key()])) ++differing;
  }
  // Every drawn weight differs for another seed (BN weights and biases are constants).
  std::size_t drawn = 0;
  for (const auto& p : pa)
    if (p.value().dim() > 1) ++drawn;
  EXPECT_GE(differing, drawn);
  // The normalisation is part of the model's state.
  EXPECT_TRUE(a->named_buffers().contains("input_mean"));
  EXPECT_TRUE(a->named_buffers().contains("input_std"));
}

TEST_P(Zoo, GradientsReachEveryInput) {
  const auto& m = GetParam();
  auto model = m.build(medadv::testing::model_spec(3, 2, m.sizes.front(), m.task), 0);
  model->eval();
  auto x = medadv::testing::random_images(2, 3, m.sizes.front(), 2).requires_grad_(true);
  model->forward(x).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
  const auto per_sample = x.grad().abs().flatten(1).sum(1);
  EXPECT_TRUE((per_sample > 0).all().item<bool>()) << per_sample;
}

TEST_P(Zoo, RefusesTheOtherTaskTooSmallImagesAndBadNormalisation) {
  const auto& m = GetParam();
  const Task other = m.task == Task::Classification ? Task::Segmentation : Task::Classification;
  EXPECT_THROW(m.build(medadv::testing::model_spec(1, 2, m.sizes.front(), other), 0), medadv::InvalidInput);
  EXPECT_THROW(m.build(medadv::testing::model_spec(1, 2, 4, m.task), 0), medadv::InvalidInput);
  EXPECT_NE(error_of([&] { m.build(medadv::testing::model_spec(1, 2, 4, m.task), 0); }).find(m.name + ": image_size must be >= "),
            std::string::npos);
  auto spec = medadv::testing::model_spec(3, 2, m.sizes.front(), m.task);
  spec.std = {0.2, 0.2};
  EXPECT_THROW(m.build(spec, 0), medadv::InvalidInput);
  EXPECT_NE(error_of([&] { m.build(spec, 0); }).find(m.name + ": spec.std has 2 value(s); expected 3"),
            std::string::npos);
}

TEST_P(Zoo, NormalisesWithTheSpecsMeanAndStd) {
  // Same weights (same seed); one model normalises with mean 0.2 / std 0.1, the other
  // with the defaults 0.5 / 0.5. Inputs mapped to the same normalised values must give
  // the same logits.
  const auto& m = GetParam();
  auto spec = medadv::testing::model_spec(1, 2, m.sizes.front(), m.task);
  auto plain = m.build(spec, 5);
  spec.mean = {0.2};
  spec.std = {0.1};
  auto custom = m.build(spec, 5);
  plain->eval();
  custom->eval();
  torch::NoGradGuard no_grad;
  const auto x = medadv::testing::random_images(2, 1, m.sizes.front(), 3);
  const auto mapped = 0.2 + 0.1 * (x - 0.5) / 0.5;
  // The first tap too: freshly initialised VGG and MobileNetV2 heads (N(0, 0.01)) give
  // logits too close to zero to tell inputs apart.
  const auto first = plain->tap_names().front();
  const auto a = plain->forward_taps(x, {first}), b = custom->forward_taps(mapped, {first});
  EXPECT_TRUE(torch::allclose(a.logits, b.logits, 1e-3, 1e-5));
  EXPECT_TRUE(torch::allclose(a.tap(first), b.tap(first), 1e-3, 1e-5));
  EXPECT_FALSE(torch::allclose(a.tap(first), custom->forward_taps(x, {first}).tap(first), 1e-3, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Models, Zoo, ::testing::ValuesIn(zoo()), zoo_name);

// ---- ResNet ----------------------------------------------------------------------------

TEST(ResNet, ParameterCountsMatchTorchvision) {
  // torchvision.models.resnet18() / resnet50(): 3 channels, 1000 classes, ImageNet stem.
  using namespace medadv::plugins::resnet;
  const auto spec = medadv::testing::model_spec(3, 1000, 224);
  EXPECT_EQ(count_parameters(*build_with<ResNet18Plugin>({}, spec)), 11689512);
  EXPECT_EQ(count_parameters(*build_with<ResNet50Plugin>({}, spec)), 25557032);
  // The CIFAR stem trades the 7x7 stem conv for a 3x3 one: 64 * 3 * (49 - 9) fewer.
  EXPECT_EQ(count_parameters(*build_with<ResNet18Plugin>({{"stem", "cifar"}}, spec)), 11689512 - 64 * 3 * 40);
}

TEST(ResNet, TorchvisionParameterNames) {
  using namespace medadv::plugins::resnet;
  auto model = build_with<ResNet50Plugin>({{"width", 8}}, medadv::testing::model_spec(3, 10, 32));
  const auto names = model->named_parameters();
  for (const char* name : {"conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer1.0.conv3.weight",
                           "layer1.0.downsample.0.weight", "layer1.0.downsample.1.bias", "layer2.3.bn2.weight",
                           "layer3.5.conv2.weight", "layer4.2.bn3.bias", "fc.weight", "fc.bias"})
    EXPECT_TRUE(names.contains(name)) << name;
  EXPECT_FALSE(names.contains("layer1.1.downsample.0.weight"));
}

TEST(ResNet, StemFollowsTheImageSizeOrTheParameter) {
  using namespace medadv::plugins::resnet;
  const auto x128 = medadv::testing::random_images(1, 1, 128);
  auto automatic = build_with<ResNet18Plugin>({{"width", 4}}, medadv::testing::model_spec(1, 2, 128));
  automatic->eval();
  EXPECT_EQ(dynamic_cast<ResNet&>(*automatic).stem(), Stem::ImageNet);
  // conv7x7/2 and max-pool/2: 128 -> 32; three more halvings -> 4.
  auto out = automatic->forward_taps(x128, {"stem", "block8"});
  EXPECT_EQ(out.tap("stem").sizes(), c10::IntArrayRef({1, 4, 32, 32}));
  EXPECT_EQ(out.tap("block8").sizes(), c10::IntArrayRef({1, 32, 4, 4}));
  auto cifar = build_with<ResNet18Plugin>({{"width", 4}, {"stem", "cifar"}}, medadv::testing::model_spec(1, 2, 128));
  cifar->eval();
  EXPECT_EQ(cifar->forward_taps(x128, {"stem"}).tap("stem").sizes(), c10::IntArrayRef({1, 4, 128, 128}));
  auto imagenet = build_with<ResNet18Plugin>({{"width", 4}, {"stem", "imagenet"}}, medadv::testing::model_spec(1, 2, 32));
  imagenet->eval();
  EXPECT_EQ(imagenet->forward_taps(medadv::testing::random_images(1, 1, 32), {"stem"}).tap("stem").sizes(),
            c10::IntArrayRef({1, 4, 8, 8}));
}

TEST(ResNet, BottleneckReluTapsEndInTheBlockOutput) {
  using namespace medadv::plugins::resnet;
  auto model = build_with<ResNet50Plugin>({{"width", 8}}, medadv::testing::model_spec(3, 2, 32));
  model->eval();
  const auto names = model->tap_names();
  EXPECT_EQ(names.size(), 1u + 16 * 4 + 2);  // stem, 16 x (3 ReLUs + block), penultimate, logits
  const auto out =
      model->forward_taps(medadv::testing::random_images(2, 3, 32), {"block5.relu3", "block5", "block5.relu1"});
  EXPECT_TRUE(torch::equal(out.tap("block5.relu3"), out.tap("block5")));
  EXPECT_GE(out.tap("block5.relu1").min().item<float>(), 0.0f);  // after a ReLU
}

// ---- VGG -------------------------------------------------------------------------------

TEST(Vgg, ParameterCountOfTheThirteenConvolutions) {
  // torchvision's vgg16().features holds 14,714,688 parameters; the head here is
  // global pool -> 512 -> 512 -> K.
  using namespace medadv::plugins::vgg;
  const std::int64_t head = (512 * 512 + 512) * 2 + (512 * 10 + 10);
  EXPECT_EQ(count_parameters(*build_with<Vgg16PlainPlugin>({}, medadv::testing::model_spec(3, 10, 32))), 14714688 + head);
  // vgg16-bn adds a weight and a bias per conv channel: 2 * (2*64 + 2*128 + 3*256 + 6*512).
  EXPECT_EQ(count_parameters(*build_with<Vgg16BnPlugin>({}, medadv::testing::model_spec(3, 10, 32))), 14714688 + head + 2 * 4224);
}

TEST(Vgg, DropoutOnlyInTrainingAndBatchNormOnlyInVgg16Bn) {
  using namespace medadv::plugins::vgg;
  auto plain = build_with<Vgg16PlainPlugin>({{"width", 4}, {"hidden", 64}}, medadv::testing::model_spec(1, 2, 32));
  auto bn = build_with<Vgg16BnPlugin>({{"width", 4}, {"hidden", 64}}, medadv::testing::model_spec(1, 2, 32));
  std::size_t plain_bn = 0, bn_bn = 0;
  for (const auto& m : plain->modules()) plain_bn += m->as<torch::nn::BatchNorm2dImpl>() != nullptr;
  for (const auto& m : bn->modules()) bn_bn += m->as<torch::nn::BatchNorm2dImpl>() != nullptr;
  EXPECT_EQ(plain_bn, 0u);
  EXPECT_EQ(bn_bn, 13u);
  const auto x = medadv::testing::random_images(4, 1, 32, 9);
  torch::NoGradGuard no_grad;
  plain->train();
  EXPECT_FALSE(torch::equal(plain->forward_taps(x, {"fc_relu1"}).logits, plain->forward(x)));
  plain->eval();
  EXPECT_TRUE(torch::equal(plain->forward(x), plain->forward(x)));
  const auto out = plain->forward_taps(x, {"fc_relu2", "penultimate"});
  EXPECT_TRUE(torch::equal(out.tap("fc_relu2"), out.tap("penultimate")));
}

// ---- MobileNetV2 -------------------------------------------------------------------------

TEST(MobileNetV2, ChannelRoundingAsTorchvision) {
  using medadv::plugins::mobilenetv2::make_divisible;
  EXPECT_EQ(make_divisible(32 * 1.0), 32);
  EXPECT_EQ(make_divisible(24 * 0.25), 8);    // 6 -> at least the divisor
  EXPECT_EQ(make_divisible(96 * 0.35), 32);   // 33.6 -> int(37.6) // 8 * 8 = 32
  EXPECT_EQ(make_divisible(32 * 0.35), 16);   // 11.2 -> 8, but 8 < 0.9 * 11.2 -> 16
  EXPECT_EQ(make_divisible(160 * 1.4), 224);  // 224 exactly
  EXPECT_EQ(make_divisible(1280 * 1.4), 1792);
}

TEST(MobileNetV2, ParameterCountMatchesTorchvision) {
  // torchvision.models.mobilenet_v2(): 3 channels, 1000 classes.
  using namespace medadv::plugins::mobilenetv2;
  EXPECT_EQ(count_parameters(*build_with<MobileNetV2Plugin>({}, medadv::testing::model_spec(3, 1000, 224))), 3504872);
}

TEST(MobileNetV2, ImageNetStemDownsamplesThirtyTwoTimes) {
  using namespace medadv::plugins::mobilenetv2;
  auto model = build_with<MobileNetV2Plugin>({{"width_mult", 0.25}, {"stem", "imagenet"}}, medadv::testing::model_spec(3, 2, 64));
  model->eval();
  EXPECT_EQ(dynamic_cast<MobileNetV2&>(*model).stem(), Stem::ImageNet);
  const auto out = model->forward_taps(medadv::testing::random_images(1, 3, 64), {"block1", "block3", "block17"});
  EXPECT_EQ(out.tap("block1").sizes(), c10::IntArrayRef({1, 8, 32, 32}));
  EXPECT_EQ(out.tap("block3").sizes(), c10::IntArrayRef({1, 8, 16, 16}));
  EXPECT_EQ(out.tap("block17").sizes(), c10::IntArrayRef({1, 80, 2, 2}));
}

// ---- Wide ResNet ---------------------------------------------------------------------

TEST(WideResNet, ParameterCountOfWrn28x10) {
  // WRN-28-10 for CIFAR-10 (Zagoruyko & Komodakis; the TRADES/MART code): 36,479,194.
  using namespace medadv::plugins::wide_resnet;
  EXPECT_EQ(count_parameters(*build_with<WideResNetPlugin>({}, medadv::testing::model_spec(3, 10, 32))), 36479194);
}

TEST(WideResNet, DepthSetsTheBlockCountAndMustBe6nPlus4) {
  using namespace medadv::plugins::wide_resnet;
  auto model = build_with<WideResNetPlugin>({{"depth", 16}, {"widen_factor", 2}}, medadv::testing::model_spec(1, 2, 32));
  const auto names = model->tap_names();
  EXPECT_EQ(names, (std::vector<std::string>{"block1", "block2", "block3", "block4", "block5", "block6", "penultimate",
                                             "logits"}));
  const auto out = model->forward_taps(medadv::testing::random_images(1, 1, 32), {"block2", "block3", "block6"});
  EXPECT_EQ(out.tap("block2").sizes(), c10::IntArrayRef({1, 32, 32, 32}));
  EXPECT_EQ(out.tap("block3").sizes(), c10::IntArrayRef({1, 64, 16, 16}));
  EXPECT_EQ(out.tap("block6").sizes(), c10::IntArrayRef({1, 128, 8, 8}));
  EXPECT_THROW(build_with<WideResNetPlugin>({{"depth", 12}}, medadv::testing::model_spec(1, 2, 32)), medadv::InvalidInput);
  EXPECT_NE(error_of([] {
              build_with<WideResNetPlugin>({{"depth", 30}}, medadv::testing::model_spec(1, 2, 32));
            }).find("depth must be 6n + 4"),
            std::string::npos);
}

// ---- Segmentation ------------------------------------------------------------------------

TEST(Segmentation, AnySizeIsPaddedAndCroppedBack) {
  // A 37 px image is padded to 48 inside; the logits must be those of the model on the
  // image replicate-padded to 48 by hand, cropped to 37.
  using namespace medadv::plugins::segmentation;
  for (const auto& model : {build_with<UNetPlugin>({{"base_width", 4}}, medadv::testing::model_spec(2, 1, 37, Task::Segmentation)),
                            build_with<SegNetPlugin>({{"base_width", 4}}, medadv::testing::model_spec(2, 1, 37, Task::Segmentation))}) {
    model->eval();
    torch::NoGradGuard no_grad;
    const auto x = medadv::testing::random_images(2, 2, 37, 4);
    const auto logits = model->forward(x);
    EXPECT_EQ(logits.sizes(), c10::IntArrayRef({2, 1, 37, 37}));
    const auto by_hand =
        torch::nn::functional::pad(x, torch::nn::functional::PadFuncOptions({0, 11, 0, 11}).mode(torch::kReplicate));
    const auto expected = model->forward(by_hand).slice(2, 0, 37).slice(3, 0, 37);
    EXPECT_TRUE(torch::allclose(logits, expected, 1e-4, 1e-5));
    // Non-square inputs work the same way.
    EXPECT_EQ(model->forward(torch::rand({1, 2, 20, 52})).sizes(), c10::IntArrayRef({1, 1, 20, 52}));
  }
}

TEST(Segmentation, NoPenultimateAndMulticlassLogits) {
  using namespace medadv::plugins::segmentation;
  auto model = build_with<SegNetPlugin>({{"base_width", 4}}, medadv::testing::model_spec(1, 4, 32, Task::Segmentation));
  const auto names = model->tap_names();
  EXPECT_EQ(std::count(names.begin(), names.end(), "penultimate"), 0);
  EXPECT_EQ(model->forward(medadv::testing::random_images(1, 1, 32)).sizes(), c10::IntArrayRef({1, 4, 32, 32}));
  EXPECT_THROW(model->forward_taps(medadv::testing::random_images(1, 1, 32), {"penultimate"}), medadv::Error);
}

TEST(Segmentation, LayerCountsOfTheArchitectures) {
  // SegNet keeps VGG-16's 13 encoder convolutions and their 13 decoder mirrors (the last
  // one is the classifier); U-Net has 9 double convolutions, 4 up-convolutions and a
  // 1x1 classifier.
  using namespace medadv::plugins::segmentation;
  auto count = [](TappedModule& m, auto* type) {
    std::size_t n = 0;
    for (const auto& sub : m.modules()) n += sub->as<std::remove_pointer_t<decltype(type)>>() != nullptr;
    return n;
  };
  auto segnet = build_with<SegNetPlugin>({{"base_width", 4}}, medadv::testing::model_spec(1, 2, 32, Task::Segmentation));
  auto unet = build_with<UNetPlugin>({{"base_width", 4}}, medadv::testing::model_spec(1, 2, 32, Task::Segmentation));
  EXPECT_EQ(count(*segnet, static_cast<torch::nn::Conv2dImpl*>(nullptr)), 26u);
  EXPECT_EQ(count(*unet, static_cast<torch::nn::Conv2dImpl*>(nullptr)), 19u);
  EXPECT_EQ(count(*unet, static_cast<torch::nn::ConvTranspose2dImpl*>(nullptr)), 4u);
}
