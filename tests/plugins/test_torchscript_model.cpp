// The torchscript model plugin: scripted modules built here in C++ (parameters, a
// buffer, a submodule, forward and forward_features defined from TorchScript source),
// saved to a file and loaded through the plugin; the module's own output is the oracle.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <medadv/testing.h>

#include "fixtures/scripted_model.h"
#include "models/torchscript/torchscript_model.h"
#include "support/test_support.h"

namespace {

using medadv::ModelSpec;
using medadv::plugins::torchscript::TorchScriptPlugin;

constexpr std::int64_t kFeatureWidth = medadv::fixtures::kScriptedFeatureWidth;
using medadv::fixtures::scripted_classifier;

std::filesystem::path fresh_dir() {
  static int counter = 0;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("medadv-torchscript-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  return dir;
}

std::filesystem::path save(torch::jit::Module module, const std::string& name) {
  const auto path = fresh_dir() / name;
  module.save(path.string());
  return path;
}

medadv::Params plugin_params(const std::string& path) {
  medadv::ParamSchema s;
  TorchScriptPlugin::schema(s);
  return s.resolve_or_throw(medadv::Value(medadv::Value::Table{{"path", path}}), "torchscript");
}

std::shared_ptr<medadv::TappedModule> build(const std::filesystem::path& path, const ModelSpec& spec) {
  medadv::testing::TestContext ctx;
  TorchScriptPlugin plugin(plugin_params(path.string()), ctx);
  return plugin.build(spec);
}



}  // namespace

TEST(TorchScriptModel, LogitsAndTapsAreTheModulesOwn) {
  const auto path = save(scripted_classifier(3, 5, true, 1), "net.pt");
  auto model = build(path, medadv::testing::model_spec(3, 5, 16));
  auto reference = torch::jit::load(path.string());
  EXPECT_EQ(model->tap_names(), (std::vector<std::string>{"conv", "penultimate", "logits"}));

  const auto x = medadv::testing::random_images(4, 3, 16, 2);
  const auto expected_logits = reference.forward({x}).toTensor();
  const auto expected_features = reference.get_method("forward_features")({x}).toGenericDict();
  const auto out = model->forward_taps(x, {"conv", "penultimate", "logits"});
  EXPECT_TRUE(torch::allclose(out.logits, expected_logits));
  EXPECT_TRUE(torch::allclose(model->forward(x), expected_logits));
  EXPECT_EQ(out.logits.sizes(), c10::IntArrayRef({4, 5}));
  EXPECT_EQ(out.tap("conv").sizes(), c10::IntArrayRef({4, kFeatureWidth, 16, 16}));
  EXPECT_EQ(out.tap("penultimate").sizes(), c10::IntArrayRef({4, kFeatureWidth}));
  EXPECT_TRUE(torch::allclose(out.tap("conv"), expected_features.at("conv").toTensor()));
  EXPECT_TRUE(torch::allclose(out.tap("penultimate"), expected_features.at("penultimate").toTensor()));
  EXPECT_TRUE(torch::equal(out.tap("logits"), out.logits));
  // Other image sizes work too (the dummy forward only fixed the names).
  EXPECT_EQ(model->forward_taps(medadv::testing::random_images(1, 3, 24), {"conv"}).tap("conv").sizes(),
            c10::IntArrayRef({1, kFeatureWidth, 24, 24}));
  // Unknown taps are named.
  const auto what = error_of([&] { model->forward_taps(x, {"conv2"}); });
  EXPECT_NE(what.find("torchscript has no tap 'conv2' (did you mean 'conv'?)"), std::string::npos) << what;
}

TEST(TorchScriptModel, ParametersAreVisibleForTrainingFreezingAndCheckpoints) {
  const auto path = save(scripted_classifier(1, 3, true, 2), "net.pt");
  auto model = build(path, medadv::testing::model_spec(1, 3, 8));
  const auto params = model->named_parameters();
  EXPECT_EQ(params.keys(), (std::vector<std::string>{"conv_weight", "head.weight", "head.bias"}));
  EXPECT_TRUE(model->named_buffers().contains("scale"));

  // Gradients of the wrapper's forward land in the wrapper's parameters.
  const auto x = medadv::testing::random_images(2, 1, 8, 3);
  model->zero_grad();
  model->forward(x).pow(2).sum().backward();
  for (const auto& p : model->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
  }
  // An optimizer step on them changes the scripted module's output.
  const auto before = model->forward(x).detach();
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  sgd.step();
  EXPECT_FALSE(torch::allclose(model->forward(x), before));

  // Frozen parameters: no graph to the weights, gradients still reach the input.
  for (auto& p : model->parameters()) p.requires_grad_(false);
  EXPECT_FALSE(model->forward(x).requires_grad());
  auto input = x.clone().requires_grad_(true);
  model->forward(input).sum().backward();
  EXPECT_TRUE(input.grad().defined());

  // .to() converts the scripted module's own tensors.
  model->to(torch::kDouble);
  const auto doubled = model->forward(x.to(torch::kDouble));
  EXPECT_EQ(doubled.scalar_type(), torch::kDouble);
  model->to(torch::kFloat);

  // A checkpoint of one model loads into another built from a different file.
  std::stringstream stream;
  torch::save(model, stream);
  auto other = build(save(scripted_classifier(1, 3, true, 99), "other.pt"), medadv::testing::model_spec(1, 3, 8));
  EXPECT_FALSE(torch::allclose(other->forward(x), model->forward(x)));
  torch::load(other, stream);
  EXPECT_TRUE(torch::allclose(other->forward(x), model->forward(x)));
}

TEST(TorchScriptModel, TrainAndEvalReachTheScriptedModule) {
  // forward returns 1 in training mode and 0 in eval mode.
  torch::jit::Module probe("Probe");
  probe.register_attribute("training", c10::BoolType::get(), true);  // what torch.nn.Module has
  probe.define(R"(
def forward(self, x):
    if self.training:
        return torch.ones([x.size(0), 1])
    return torch.zeros([x.size(0), 1])
)");
  auto model = build(save(probe, "probe.pt"), medadv::testing::model_spec(1, 1, 8));
  const auto x = torch::zeros({2, 1, 8, 8});
  model->eval();
  EXPECT_FALSE(model->is_training());
  EXPECT_EQ(model->forward(x).sum().item<float>(), 0.0f);
  model->train();
  EXPECT_EQ(model->forward(x).sum().item<float>(), 2.0f);
}

TEST(TorchScriptModel, WithoutForwardFeaturesOnlyLogits) {
  auto model = build(save(scripted_classifier(3, 2, false, 3), "plain.pt"), medadv::testing::model_spec(3, 2, 16));
  EXPECT_EQ(model->tap_names(), (std::vector<std::string>{"logits"}));
  const auto x = medadv::testing::random_images(2, 3, 16);
  EXPECT_EQ(model->forward_taps(x, {"logits"}).logits.sizes(), c10::IntArrayRef({2, 2}));
  EXPECT_THROW(model->forward_taps(x, {"penultimate"}), medadv::Error);
}

TEST(TorchScriptModel, ForwardFeaturesWithLogitsServesOneCall) {
  // forward_features returns the logits too (scaled by 10 to tell the two methods apart):
  // a forward that asks for taps uses them, a plain forward uses forward.
  auto net = scripted_classifier(1, 2, false, 4);
  net.define(R"(
def forward_features(self, x):
    h = torch.relu(torch.conv2d(x * self.scale - 1.0, self.conv_weight, None, 1, 1))
    logits = torch.matmul(h.mean([2, 3]), self.head.weight.t()) + self.head.bias
    return {"pooled": h.mean([2, 3]), "logits": logits * 10.0}
)");
  auto model = build(save(net, "with-logits.pt"), medadv::testing::model_spec(1, 2, 8));
  EXPECT_EQ(model->tap_names(), (std::vector<std::string>{"pooled", "logits"}));
  const auto x = medadv::testing::random_images(2, 1, 8, 5);
  const auto plain = model->forward(x);
  const auto tapped = model->forward_taps(x, {"pooled"});
  EXPECT_TRUE(torch::allclose(tapped.logits, plain * 10.0));
}

TEST(TorchScriptModel, RefusesFilesThatAreNotTorchScript) {
  const auto dir = fresh_dir();
  const auto junk = dir / "weights.pt";
  {
    std::ofstream out(junk, std::ios::binary);
    std::mt19937 rng(7);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>(rng() & 0xff));
  }
  EXPECT_THROW(build(junk, medadv::testing::model_spec(3, 2, 16)), medadv::InvalidInput);
  const auto what = error_of([&] { build(junk, medadv::testing::model_spec(3, 2, 16)); });
  EXPECT_NE(what.find("not a TorchScript archive: " + junk.string()), std::string::npos) << what;

  const auto missing = dir / "missing.pt";
  EXPECT_THROW(build(missing, medadv::testing::model_spec(3, 2, 16)), medadv::InvalidInput);
  EXPECT_NE(error_of([&] { build(missing, medadv::testing::model_spec(3, 2, 16)); }).find(missing.string()), std::string::npos);

  // The path is required.
  medadv::ParamSchema s;
  TorchScriptPlugin::schema(s);
  EXPECT_THROW(s.resolve_or_throw(medadv::Value(medadv::Value::Table{}), "torchscript"), medadv::ValidationError);
}

TEST(TorchScriptModel, RefusesAModuleThatDoesNotFitTheSpec) {
  const auto path = save(scripted_classifier(3, 5, true, 6), "net.pt");
  // Seven classes asked for, five given.
  const auto classes = error_of([&] { build(path, medadv::testing::model_spec(3, 7, 16)); });
  EXPECT_NE(classes.find(path.string() + ": forward returns [2, 5]"), std::string::npos) << classes;
  EXPECT_NE(classes.find("expects [2, 7]"), std::string::npos) << classes;
  // One channel given to a three-channel convolution.
  EXPECT_THROW(build(path, medadv::testing::model_spec(1, 5, 16)), medadv::InvalidInput);
  EXPECT_NE(error_of([&] { build(path, medadv::testing::model_spec(1, 5, 16)); }).find("the module fails on a [2, 1, 16, 16] input"),
            std::string::npos);
}

// Issue 24: a module whose logits are integers, or whose tap drops the batch dimension,
// failed later inside an attack or detector naming neither the plugin nor the file.
TEST(TorchScriptModel, RefusesIntegerLogitsAndTapsWithoutTheBatchAtBuild) {
  // scripted_net's parameters with a forward of the test's own.
  const auto net_with = [](const std::string& forward) {
    torch::jit::Module net("Net");
    net.register_parameter("conv_weight", torch::randn({kFeatureWidth, 3, 3, 3}).requires_grad_(true), false);
    net.register_buffer("scale", torch::full({1}, 2.0));
    torch::jit::Module head("Head");
    head.register_parameter("weight", torch::randn({2, kFeatureWidth}).requires_grad_(true), false);
    head.register_parameter("bias", torch::randn({2}).requires_grad_(true), false);
    net.register_module("head", head);
    net.define(forward);
    return net;
  };
  auto integer = net_with(R"(
def forward(self, x):
    h = torch.relu(torch.conv2d(x * self.scale - 1.0, self.conv_weight, None, 1, 1))
    return (torch.matmul(h.mean([2, 3]), self.head.weight.t()) * 100.0).long()
)");
  const auto integer_path = save(integer, "int64.pt");
  const auto integer_message = error_of([&] { build(integer_path, medadv::testing::model_spec(3, 2, 16)); });
  EXPECT_NE(integer_message.find(integer_path.string() + ": forward returns Long logits"), std::string::npos)
      << integer_message;

  auto mixed = net_with(std::string(medadv::fixtures::kScriptedForward) + R"(
def forward_features(self, x):
    h = torch.relu(torch.conv2d(x * self.scale - 1.0, self.conv_weight, None, 1, 1))
    return {"penultimate": h.mean([0, 2, 3])}
)");
  const auto mixed_path = save(mixed, "mixed.pt");
  const auto mixed_message = error_of([&] { build(mixed_path, medadv::testing::model_spec(3, 2, 16)); });
  EXPECT_NE(mixed_message.find(mixed_path.string() + ": forward_features returns tap 'penultimate' of shape [4]"),
            std::string::npos)
      << mixed_message;
}
