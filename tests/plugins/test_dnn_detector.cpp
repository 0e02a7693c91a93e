// The dnn detector (plugins/detectors/dnn): the detector net's adaptation to small maps,
// the default tap, and on a tiny classifier: it learns a clean / perturbed split,
// deterministically for a seed, with a score differentiable in the input, and leaves the
// victim's weights alone.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <medadv/capabilities.h>
#include <medadv/metrics.h>
#include <medadv/params.h>
#include <medadv/testing.h>

#include "detectors/dnn/detector_net.h"
#include "detectors/dnn/dnn_detector.h"

// Oracle tests build their models on the CPU and pin their contexts to it
// (TestContext(torch::kCPU)), so that they check the same thing under MEDADV_TEST_DEVICE=cuda;
// the tests on trained victims run on the tests' device.
namespace {

namespace dnn = medadv::plugins::dnn;
using medadv::Value;

medadv::Params dnn_params(Value::Table overrides = {}) {
  medadv::ParamSchema s;
  dnn::DnnDetector::schema(s);
  return s.resolve_or_throw(Value(std::move(overrides)), "dnn");
}

}  // namespace

TEST(DnnDetector, NetAdaptsToSmallMaps) {
  struct Case {
    std::int64_t h, w;
    std::vector<bool> pools;
  };
  // Padded pools: side s -> ceil(s / 2); a 1 x 1 map skips them.
  for (const Case& c : {Case{16, 16, {true, true}}, Case{4, 4, {true, true}}, Case{2, 2, {true, false}},
                        Case{1, 1, {false, false}}, Case{1, 5, {true, true}}}) {
    dnn::DetectorNet net(7, c.h, c.w, 3);
    EXPECT_EQ(net.pools(), c.pools) << c.h << " x " << c.w;
    const torch::Tensor logits = net.forward(torch::randn({5, 7, c.h, c.w}));
    EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{5})) << c.h << " x " << c.w;
  }
  // Vectors are 1 x 1 maps.
  EXPECT_EQ(dnn::as_feature_map(torch::zeros({2, 9})).sizes(), (std::vector<std::int64_t>{2, 9, 1, 1}));
  // The same seed, the same weights.
  dnn::DetectorNet a(4, 3, 3, 11), b(4, 3, 3, 11), c(4, 3, 3, 12);
  const torch::Tensor x = torch::randn({2, 4, 3, 3});
  EXPECT_TRUE(torch::equal(a.forward(x), b.forward(x)));
  EXPECT_FALSE(torch::equal(a.forward(x), c.forward(x)));
}

TEST(DnnDetector, SchemaAndDefaultTap) {
  const auto p = dnn_params();
  EXPECT_TRUE(p.get_string_list("taps").empty());
  EXPECT_EQ(p.get_int("steps"), 300);
  EXPECT_EQ(p.get_int("batch_size"), 64);
  EXPECT_DOUBLE_EQ(p.get_float("lr"), 1e-3);
  EXPECT_DOUBLE_EQ(p.get_float("weight_decay"), 1e-4);
  EXPECT_THROW(dnn_params({{"steps", 0}}), medadv::ValidationError);
  EXPECT_THROW(dnn_params({{"lr", 0.0}}), medadv::ValidationError);

  medadv::testing::TestContext ctx;
  dnn::DnnDetector detector(p, ctx);
  EXPECT_TRUE(detector.supervised());
  EXPECT_TRUE(detector.differentiable());
  // resnet18's names, resnet50's (block<i>.relu<j> are not blocks), small-cnn's.
  EXPECT_EQ(detector.taps({"stem", "block1", "block2", "block8", "penultimate", "logits"}),
            std::vector<std::string>{"block8"});
  EXPECT_EQ(detector.taps({"stem", "block16.relu1", "block16.relu3", "block16", "penultimate", "logits"}),
            std::vector<std::string>{"block16"});
  EXPECT_THROW(detector.taps({"enc1", "logits"}), medadv::InvalidInput);
  dnn::DnnDetector two(dnn_params({{"taps", Value::Array{Value("block1"), Value("penultimate")}}}), ctx);
  EXPECT_EQ(two.taps({"block1", "block2", "penultimate", "logits"}), (std::vector<std::string>{"block1", "penultimate"}));
  EXPECT_THROW(two.taps({"block2", "logits"}), medadv::InvalidInput);
}

TEST(DnnDetector, LearnsDeterministicallyAndIsDifferentiable) {
  auto module = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 0);
  medadv::ModuleModel model(module, 3, medadv::Task::Classification);
  const std::vector<torch::Tensor> weights_before = [&] {
    std::vector<torch::Tensor> w;
    for (const auto& p : module->parameters()) w.push_back(p.detach().clone());
    return w;
  }();
  // "Adversarial": the first channel raised by 0.15 (a shift the random features carry;
  // a learnable, not a trivial, split: the images are uniform noise in [0, 1]).
  const torch::Tensor shift = torch::tensor({0.15f, 0.0f, 0.0f}).view({1, 3, 1, 1});
  auto perturb = [&](const torch::Tensor& x) { return (x + shift).clamp(0, 1); };
  const torch::Tensor fit_clean = medadv::testing::random_images(64, 3, 16, 1);
  const auto data = medadv::detector_fit_data(fit_clean, torch::arange(64) % 3, perturb(fit_clean));

  // Two taps (a map and a vector); a short schedule keeps the test quick.
  const Value::Table settings{{"steps", 60}, {"batch_size", 32},
                              {"taps", Value::Array{Value("block2"), Value("penultimate")}}};
  medadv::testing::TestContext ctx(torch::kCPU, 3);
  dnn::DnnDetector detector(dnn_params(settings), ctx);
  detector.fit(model, data, ctx, nullptr);
  ASSERT_EQ(detector.nets().size(), 2u);

  const torch::Tensor clean = medadv::testing::random_images(32, 3, 16, 2);
  torch::Tensor scores, is_adversarial;
  {
    torch::NoGradGuard no_grad;
    scores = torch::cat({detector.score(model, clean), detector.score(model, perturb(clean))});
    is_adversarial = torch::cat({torch::zeros({32}, torch::kBool), torch::ones({32}, torch::kBool)});
  }
  const double auc = medadv::metrics::roc_auc(scores, is_adversarial);
  std::cout << "[dnn] tiny classifier, first channel +0.15: held-out AUC " << auc << "\n";
  EXPECT_GE(auc, 0.95);

  // Same seed: the same nets, the same scores; another seed: other scores.
  medadv::testing::TestContext same(torch::kCPU, 3), other(torch::kCPU, 4);
  dnn::DnnDetector again(dnn_params(settings), same), different(dnn_params(settings), other);
  again.fit(model, data, same, nullptr);
  different.fit(model, data, other, nullptr);
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(again.score(model, clean), detector.score(model, clean)));
    EXPECT_FALSE(torch::equal(different.score(model, clean), detector.score(model, clean)));
  }

  // Differentiable in x; the detector's own weights are frozen after fit.
  const torch::Tensor x = clean.slice(0, 0, 4).clone().requires_grad_(true);
  const torch::Tensor grad = torch::autograd::grad({detector.score(model, x).sum()}, {x})[0];
  EXPECT_TRUE(torch::isfinite(grad).all().item<bool>());
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
  for (const auto& net : detector.nets())
    for (const auto& p : net->parameters()) EXPECT_FALSE(p.requires_grad());
  // The victim's weights are untouched.
  const auto after = module->parameters();
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(torch::equal(after[i], weights_before[i]));
}
