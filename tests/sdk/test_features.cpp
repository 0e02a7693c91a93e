// Pooled per-tap features (medadv/features.h): pooling by hand, batching that does not
// change the result, gradients to the input, and tap selection with its messages.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "medadv/capabilities.h"
#include "medadv/error.h"
#include "medadv/features.h"
#include "medadv/testing.h"

namespace {

namespace features = medadv::features;

std::shared_ptr<medadv::ModuleModel> tiny_model() {
  return std::make_shared<medadv::ModuleModel>(std::make_shared<medadv::testing::TinyClassifier>(3, 4, 1), 4,
                                               medadv::Task::Classification);
}

TEST(Features, PoolAveragesSpaceAndKeepsVectors) {
  const auto t = torch::arange(2 * 3 * 2 * 2, torch::kDouble).view({2, 3, 2, 2});
  const auto pooled = features::pool(t);
  ASSERT_EQ(pooled.sizes(), (std::vector<std::int64_t>{2, 3}));
  for (std::int64_t b = 0; b < 2; ++b)
    for (std::int64_t c = 0; c < 3; ++c) {
      double sum = 0;
      for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 2; ++j) sum += t[b][c][i][j].item<double>();
      EXPECT_DOUBLE_EQ(pooled[b][c].item<double>(), sum / 4);
    }
  const auto v = torch::randn({4, 5});
  EXPECT_TRUE(torch::equal(features::pool(v), v));
  EXPECT_EQ(features::pool(torch::zeros({4})).sizes(), (std::vector<std::int64_t>{4, 1}));
  EXPECT_THROW(features::pool(torch::zeros({})), medadv::InvalidInput);
}

TEST(Features, BatchedExtractionEqualsOneForwardAndPooledForwardIsDifferentiable) {
  auto model = tiny_model();
  const auto x = medadv::testing::random_images(7, 3, 16, 3);
  const std::vector<std::string> taps{"penultimate", "block1"};
  const auto all = features::pooled_features(*model, x, taps, 3, torch::kCPU);
  ASSERT_EQ(all.features.size(), 2u);
  ASSERT_EQ(all.logits.sizes(), (std::vector<std::int64_t>{7, 4}));
  const auto direct = model->forward(x, taps);
  EXPECT_TRUE(torch::allclose(all.features[0], direct.tap("penultimate"), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(all.features[1], direct.tap("block1").mean({2, 3}), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(all.logits, direct.logits, 1e-6, 1e-6));
  EXPECT_FALSE(all.features[0].requires_grad());
  EXPECT_THROW(features::pooled_features(*model, x.slice(0, 0, 0), taps, 3, torch::kCPU), medadv::InvalidInput);

  const auto probe = x.clone().requires_grad_(true);
  const auto out = features::pooled_forward(*model, probe, {"block1"});
  out.features[0].sum().backward();
  ASSERT_TRUE(probe.grad().defined());
  EXPECT_GT(probe.grad().abs().sum().item<double>(), 0.0);
}

TEST(Features, SelectTapsExpandsAllAndNamesAMissingTap) {
  const std::vector<std::string> available{"block1", "block2", "penultimate", "logits"};
  EXPECT_EQ(features::select_taps("kd", {"all"}, available),
            (std::vector<std::string>{"block1", "block2", "penultimate"}));
  EXPECT_EQ(features::select_taps("kd", {"penultimate", "block1", "penultimate"}, available),
            (std::vector<std::string>{"penultimate", "block1"}));
  try {
    features::select_taps("mahalanobis", {"block1", "blokc2"}, available);
    FAIL() << "a missing tap must be refused";
  } catch (const medadv::InvalidInput& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mahalanobis"), std::string::npos) << what;
    EXPECT_NE(what.find("'blokc2'"), std::string::npos) << what;
    EXPECT_NE(what.find("block2"), std::string::npos) << what;  // did you mean / available
  }
  EXPECT_THROW(features::select_taps("kd", {}, available), medadv::InvalidInput);
  EXPECT_THROW(features::select_taps("kd", {"all", "block1"}, available), medadv::InvalidInput);
  EXPECT_THROW(features::select_taps("kd", {"all"}, {"logits"}), medadv::InvalidInput);
}

}  // namespace
