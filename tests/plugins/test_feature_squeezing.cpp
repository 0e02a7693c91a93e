// The feature-squeezing detector (plugins/detectors/squeeze): the squeezers (medadv/image_filters.h)
// against hand computations (bit depth on known values, scipy's "reflect" extension, 2 x 2 and 3 x 3
// medians with scipy.ndimage.median_filter's window and rank conventions), and the score
// in closed form on a model whose softmax is known.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <medadv/capabilities.h>
#include <medadv/image_filters.h>
#include <medadv/params.h>
#include <medadv/testing.h>

#include "detectors/squeeze/feature_squeezing.h"

namespace {

namespace sq = medadv::plugins::squeeze;
using medadv::Value;

medadv::Params squeeze_params(Value::Table overrides = {}) {
  medadv::ParamSchema s;
  sq::FeatureSqueezing::schema(s);
  return s.resolve_or_throw(Value(std::move(overrides)), "feature-squeezing");
}

torch::Tensor image(std::vector<double> values, std::int64_t h, std::int64_t w) {
  return torch::tensor(values, torch::kDouble).view({1, 1, h, w});
}

// logits (a * mean(x), 0): a two-class softmax known in closed form.
class MeanLogitModel : public medadv::TappedModule {
 public:
  explicit MeanLogitModel(double a) : a_(a) {}
  std::vector<std::string> tap_names() const override { return {"logits"}; }
  medadv::ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>&) override {
    medadv::ModelOutput out;
    const torch::Tensor m = x.flatten(1).mean(1, /*keepdim=*/true);
    out.logits = torch::cat({a_ * m, torch::zeros_like(m)}, 1);
    return out;
  }

 private:
  double a_;
};

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

TEST(FeatureSqueezing, BitDepthOnKnownValues) {
  // 4 bits: 15 levels. x * 15 = 0, 0.45, 0.6, 7.5 (a tie: to even, 8), 10.8, 15.
  const torch::Tensor x = torch::tensor({0.0, 0.03, 0.04, 0.5, 0.72, 1.0}, torch::kDouble);
  const torch::Tensor expected = torch::tensor({0.0, 0.0, 1.0 / 15, 8.0 / 15, 11.0 / 15, 1.0}, torch::kDouble);
  EXPECT_TRUE(torch::allclose(medadv::reduce_bit_depth(x, 4), expected, 0, 1e-15));
  // 5 bits: 31 levels; 0.5 * 31 = 15.5 -> 16 (tie to even); 0.25 * 31 = 7.75 -> 8.
  EXPECT_TRUE(torch::allclose(medadv::reduce_bit_depth(torch::tensor({0.5, 0.25}, torch::kDouble), 5),
                              torch::tensor({16.0 / 31, 8.0 / 31}, torch::kDouble), 0, 1e-15));
  // 1 bit: black or white; 0.5 is a tie and goes to 0 (even), just above it to 1.
  EXPECT_TRUE(torch::equal(medadv::reduce_bit_depth(torch::tensor({0.2, 0.5, 0.500001, 0.9}, torch::kDouble), 1),
                           torch::tensor({0.0, 0.0, 1.0, 1.0}, torch::kDouble)));
  EXPECT_THROW(medadv::reduce_bit_depth(x, 0), medadv::InvalidInput);
}

TEST(FeatureSqueezing, ReflectExtensionIsScipys) {
  // scipy "reflect": d c b a | a b c d | d c b a, positions -2 .. 5 of a length-4 axis.
  EXPECT_TRUE(torch::equal(medadv::reflect_index(4, 2, 2, torch::kCPU), torch::tensor({1, 0, 0, 1, 2, 3, 3, 2}, torch::kLong)));
  // A one-pixel border repeats the edge pixel.
  EXPECT_TRUE(torch::equal(medadv::reflect_index(3, 1, 0, torch::kCPU), torch::tensor({0, 0, 1, 2}, torch::kLong)));
  // Past the mirrored copy it repeats with period 2 * length.
  EXPECT_TRUE(torch::equal(medadv::reflect_index(2, 3, 3, torch::kCPU), torch::tensor({1, 1, 0, 0, 1, 1, 0, 0}, torch::kLong)));
}

TEST(FeatureSqueezing, MedianSmoothingAgainstHandComputation) {
  // x = 1 2 3 / 4 5 6 / 7 8 9.
  const torch::Tensor x = image({1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3);
  // 2 x 2: the window of (i, j) is rows i-1, i and columns j-1, j, the row and column
  // above / left of the image being copies of the first (scipy's reflect). Padded:
  //   1 1 2 3 / 1 1 2 3 / 4 4 5 6 / 7 7 8 9
  // (1,1): {1,2,4,5} -> sorted 1 2 4 5 -> 3rd smallest 4 (scipy's rank 4 // 2 = 2, not
  // the mean 3 of the middle pair); (0,1): {1,2,1,2} -> 2; (2,2): {5,6,8,9} -> 8.
  const torch::Tensor m2 = image({1, 2, 3, 4, 4, 5, 7, 7, 8}, 3, 3);
  EXPECT_TRUE(torch::equal(medadv::median_smooth(x, 2), m2)) << medadv::median_smooth(x, 2);
  // 3 x 3, a one-pixel reflected border on every side. Padded:
  //   1 1 2 3 3 / 1 1 2 3 3 / 4 4 5 6 6 / 7 7 8 9 9 / 7 7 8 9 9
  // (0,0): {1,1,2,1,1,2,4,4,5} -> 5th smallest 2; (0,1): {1,2,3,1,2,3,4,5,6} -> 3;
  // (1,2): {2,3,3,5,6,6,8,9,9} -> 6; (2,0): {4,4,5,7,7,8,7,7,8} -> 7; centre 5.
  const torch::Tensor m3 = image({2, 3, 3, 4, 5, 6, 7, 7, 8}, 3, 3);
  EXPECT_TRUE(torch::equal(medadv::median_smooth(x, 3), m3)) << medadv::median_smooth(x, 3);
  // Channels and images are filtered separately; shapes are kept.
  const torch::Tensor batch = torch::stack({torch::cat({x[0], 10 * x[0]}), torch::cat({x[0], x[0]})});
  const torch::Tensor smoothed = medadv::median_smooth(batch, 2);
  ASSERT_EQ(smoothed.sizes(), batch.sizes());
  EXPECT_TRUE(torch::equal(smoothed[0][1], 10 * m2[0][0]));
  EXPECT_TRUE(torch::equal(smoothed[1][0], m2[0][0]));
  // A constant image is left as it is; a 1 x 1 image too.
  EXPECT_TRUE(torch::equal(medadv::median_smooth(torch::full({2, 3, 5, 4}, 0.25), 3), torch::full({2, 3, 5, 4}, 0.25)));
  EXPECT_TRUE(torch::equal(medadv::median_smooth(torch::full({1, 1, 1, 1}, 0.7), 2), torch::full({1, 1, 1, 1}, 0.7)));
}

TEST(FeatureSqueezing, ScoreInClosedFormAndBitsByChannels) {
  const auto p = squeeze_params();
  EXPECT_TRUE(p.get_bool("bit_depth"));
  EXPECT_EQ(p.get_int("bits"), 0);
  EXPECT_EQ(p.get_int_list("median_sizes"), (std::vector<std::int64_t>{2, 3}));
  EXPECT_THROW(squeeze_params({{"median_sizes", Value::Array{Value(std::int64_t{1})}}}), medadv::ValidationError);
  medadv::testing::TestContext ctx;
  EXPECT_THROW(squeeze_params({{"bit_depth", false}, {"median_sizes", Value::Array{}}}), medadv::ValidationError);

  sq::FeatureSqueezing detector(p, ctx);
  EXPECT_FALSE(detector.supervised());
  EXPECT_TRUE(detector.taps({"block1", "logits"}).empty());
  EXPECT_EQ(detector.bits_for(1), 4);
  EXPECT_EQ(detector.bits_for(3), 5);

  const double a = 8.0;
  medadv::ModuleModel model(std::make_shared<MeanLogitModel>(a), 2, medadv::Task::Classification);
  // Unsupervised: clean only.
  const auto data = medadv::detector_fit_data(torch::full({4, 1, 6, 6}, 0.5), torch::zeros({4}, torch::kLong));
  detector.fit(model, data, ctx, nullptr);

  // Constant images: the medians change nothing, bit depth moves 0.5 to 8/15 (gray) or
  // 16/31 (RGB). Two classes: L1 of the softmax difference = 2 |s(a x) - s(a q(x))|.
  const torch::Tensor gray = detector.score(model, torch::full({2, 1, 6, 6}, 0.5));
  EXPECT_NEAR(gray[0].item<double>(), 2 * std::abs(sigmoid(a * 0.5) - sigmoid(a * 8.0 / 15)), 1e-6);
  const torch::Tensor rgb = detector.score(model, torch::full({2, 3, 6, 6}, 0.5));
  EXPECT_NEAR(rgb[1].item<double>(), 2 * std::abs(sigmoid(a * 0.5) - sigmoid(a * 16.0 / 31)), 1e-6);

  // A single bright pixel: the medians remove it, bit depth keeps 1.0 as it is. Mean
  // before = (1 + 35 * 0.2) / 36 (0.2 * 15 = 3 exactly representable as 3/15 after
  // rounding: bit depth moves 0.2 to 0.2). 2x2 median: the pixel at (2, 2) takes part in
  // windows (2,2), (2,3), (3,2), (3,3), each with three 0.2s: every output 0.2.
  torch::Tensor spot = torch::full({1, 1, 6, 6}, 0.2);
  spot[0][0][2][2] = 1.0;
  const double before = (1.0 + 35 * 0.2) / 36, after = 0.2;
  const torch::Tensor d = detector.distances(model, spot);
  ASSERT_EQ(d.sizes(), (std::vector<std::int64_t>{3, 1}));
  const double expected = 2 * std::abs(sigmoid(a * before) - sigmoid(a * after));
  EXPECT_NEAR(d[0][0].item<double>(), 0.0, 1e-6);  // bit depth: 0.2 and 1.0 are levels of 4 bits
  EXPECT_NEAR(d[1][0].item<double>(), expected, 1e-6);
  EXPECT_NEAR(d[2][0].item<double>(), expected, 1e-6);
  EXPECT_NEAR(detector.score(model, spot)[0].item<double>(), expected, 1e-6);

  // Differentiable: a finite gradient through the medians and the original branch.
  const torch::Tensor x = spot.clone().requires_grad_(true);
  const torch::Tensor grad = torch::autograd::grad({detector.score(model, x).sum()}, {x})[0];
  EXPECT_TRUE(torch::isfinite(grad).all().item<bool>());
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
}
