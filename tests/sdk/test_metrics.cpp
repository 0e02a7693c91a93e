// The SDK's metrics against hand computations, closed forms and a brute-force SSIM.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "medadv/error.h"
#include "medadv/metrics.h"

namespace m = medadv::metrics;

namespace {
torch::Tensor longs(std::vector<std::int64_t> v) { return torch::tensor(v, torch::kLong); }
torch::Tensor doubles(std::vector<double> v) { return torch::tensor(v, torch::kDouble); }
torch::Tensor bools(std::vector<int> v) { return torch::tensor(std::vector<std::int64_t>(v.begin(), v.end())).to(torch::kBool); }
std::vector<double> values(const torch::Tensor& t) {
  const auto c = t.to(torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}
}  // namespace

// ---- classification --------------------------------------------------------------

TEST(Metrics, AccuracyCountsMatches) {
  const auto labels = longs({0, 1, 2, 1, 0});
  EXPECT_DOUBLE_EQ(m::accuracy(longs({0, 1, 1, 1, 2}), labels), 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(m::robust_accuracy(longs({1, 1, 0, 2, 0}), labels), 2.0 / 5.0);
  EXPECT_TRUE(std::isnan(m::accuracy(longs({}), longs({}))));
  EXPECT_THROW(m::accuracy(longs({0, 1}), labels), medadv::InvalidInput);
  EXPECT_THROW(m::accuracy(torch::zeros({5}), labels), medadv::InvalidInput);
  EXPECT_THROW(m::accuracy(torch::zeros({5, 2}, torch::kLong), labels), medadv::InvalidInput);
}

TEST(Metrics, PerClassAccuracyIsTheAccuracyWithinEachTrueClass) {
  const auto labels = longs({0, 1, 2, 1, 0});
  const auto predictions = longs({0, 1, 1, 1, 2});
  // Class 0: samples 0 and 4, one right; class 1: samples 1 and 3, both right; class 2:
  // sample 2, wrong; class 3: no sample.
  const auto per_class = m::per_class_accuracy(predictions, labels, 4);
  ASSERT_EQ(per_class.size(), 4u);
  EXPECT_DOUBLE_EQ(per_class[0], 0.5);
  EXPECT_DOUBLE_EQ(per_class[1], 1.0);
  EXPECT_DOUBLE_EQ(per_class[2], 0.0);
  EXPECT_TRUE(std::isnan(per_class[3]));
  // Weighted by the class sizes they give the overall accuracy back.
  EXPECT_DOUBLE_EQ((2 * per_class[0] + 2 * per_class[1] + 1 * per_class[2]) / 5, m::accuracy(predictions, labels));
  EXPECT_THROW(m::per_class_accuracy(predictions, labels, 2), medadv::InvalidInput) << "label 2 with 2 classes";
  EXPECT_THROW(m::per_class_accuracy(predictions, labels, 0), medadv::InvalidInput);
  EXPECT_THROW(m::per_class_accuracy(longs({0}), labels, 3), medadv::InvalidInput);
  EXPECT_EQ(m::per_class_accuracy(longs({}), longs({}), 2).size(), 2u);
}

TEST(Metrics, UntargetedSuccessCountsOnlyCleanCorrectSamples) {
  const auto labels = longs({0, 1, 2, 1, 0});
  const auto clean = longs({0, 1, 1, 1, 2});        // correct: samples 0, 1, 3
  const auto adversarial = longs({1, 1, 0, 2, 0});  // changed: 0 and 3; sample 4 became correct
  EXPECT_TRUE(torch::equal(m::per_sample_success_untargeted(clean, adversarial, labels), bools({1, 0, 0, 1, 0})));
  EXPECT_DOUBLE_EQ(m::attack_success_rate_untargeted(clean, adversarial, labels), 2.0 / 3.0);
  // No clean-correct sample: the rate is undefined.
  EXPECT_TRUE(std::isnan(m::attack_success_rate_untargeted(longs({1, 0}), longs({1, 0}), longs({0, 1}))));
  EXPECT_THROW(m::attack_success_rate_untargeted(clean, longs({1}), labels), medadv::InvalidInput);
}

TEST(Metrics, TargetedSuccessExcludesSamplesAlreadyAtTheTarget) {
  const auto labels = longs({0, 1, 2, 1});
  const auto targets = longs({1, 1, 0, 0});      // sample 1 already is its target
  const auto adversarial = longs({1, 1, 1, 0});  // reached: 0 and 3 (and 1, which does not count)
  EXPECT_TRUE(torch::equal(m::per_sample_success_targeted(adversarial, labels, targets), bools({1, 0, 0, 1})));
  EXPECT_DOUBLE_EQ(m::attack_success_rate_targeted(adversarial, labels, targets), 2.0 / 3.0);
  EXPECT_TRUE(std::isnan(m::attack_success_rate_targeted(longs({1, 0}), longs({1, 0}), longs({1, 0}))));
}

TEST(Metrics, PredictedClassProbabilityIsTheLargestSoftmaxEntry) {
  // softmax(0, ln 3) = (1/4, 3/4); equal logits give 1/K; a shift changes nothing.
  const auto logits = torch::tensor({0.0, std::log(3.0), 2.0, 2.0, 5.0, 5.0 + std::log(3.0)}, torch::kDouble).view({3, 2});
  const auto p = values(m::predicted_class_probability(logits));
  ASSERT_EQ(p.size(), 3u);
  EXPECT_NEAR(p[0], 0.75, 1e-12);
  EXPECT_NEAR(p[1], 0.5, 1e-12);
  EXPECT_NEAR(p[2], 0.75, 1e-12);
  EXPECT_NEAR(values(m::predicted_class_probability(torch::zeros({1, 3})))[0], 1.0 / 3.0, 1e-7);
  // Large logits do not overflow: a saturated class gives 1, not NaN.
  EXPECT_DOUBLE_EQ(values(m::predicted_class_probability(torch::tensor({{1000.0f, -1000.0f}})))[0], 1.0);
  EXPECT_THROW(m::predicted_class_probability(torch::zeros({4})), medadv::InvalidInput);
  EXPECT_THROW(m::predicted_class_probability(torch::Tensor()), medadv::InvalidInput);
}

TEST(Metrics, AdversarialConfidenceAveragesOverTheSuccessesOnly) {
  const auto probability = doubles({0.75, 0.9, 0.6, 0.99});
  EXPECT_DOUBLE_EQ(m::adversarial_confidence(probability, bools({1, 0, 1, 0})), (0.75 + 0.6) / 2);
  EXPECT_DOUBLE_EQ(m::adversarial_confidence(probability, bools({0, 0, 0, 1})), 0.99);
  EXPECT_TRUE(std::isnan(m::adversarial_confidence(probability, bools({0, 0, 0, 0}))));
  EXPECT_TRUE(std::isnan(m::adversarial_confidence(doubles({}), bools({}))));
  EXPECT_THROW(m::adversarial_confidence(probability, bools({1, 0})), medadv::InvalidInput);
  EXPECT_THROW(m::adversarial_confidence(probability, doubles({0.5, 1, 0, 1})), medadv::InvalidInput) << "not a mask";
}

TEST(Metrics, ImagesPerSecond) {
  EXPECT_DOUBLE_EQ(m::images_per_second(120, 3.2), 37.5);
  EXPECT_TRUE(std::isnan(m::images_per_second(10, 0.0)));
}

// ---- detection -------------------------------------------------------------------

namespace {
// Positives 0.9, 0.8, 0.7, 0.6; negatives 0.8, 0.6, 0.3 (two cross-class ties).
torch::Tensor tie_scores() { return doubles({0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.3}); }
torch::Tensor tie_labels() { return bools({1, 1, 0, 1, 0, 1, 0}); }
}  // namespace

TEST(Metrics, AucCountsPairsWithTiesAsHalf) {
  // Pairs won by each positive against the 3 negatives: 0.9: 3; 0.8: 2 + tie;
  // 0.7: 2; 0.6: 1 + tie. (3 + 2.5 + 2 + 1.5) / 12.
  EXPECT_NEAR(m::roc_auc(tie_scores(), tie_labels()), 9.0 / 12.0, 1e-12);
  // 0/1 integer labels and float scores work the same.
  EXPECT_NEAR(m::roc_auc(tie_scores().to(torch::kFloat), tie_labels().to(torch::kLong)), 9.0 / 12.0, 1e-6);
  // Reversed scores: the complement.
  EXPECT_NEAR(m::roc_auc(-tie_scores(), tie_labels()), 3.0 / 12.0, 1e-12);
  EXPECT_DOUBLE_EQ(m::roc_auc(doubles({0.1, 0.2, 0.8, 0.9}), bools({0, 0, 1, 1})), 1.0);
  EXPECT_DOUBLE_EQ(m::roc_auc(doubles({0.5, 0.5}), bools({0, 1})), 0.5);
  EXPECT_TRUE(std::isnan(m::roc_auc(doubles({0.1, 0.2}), bools({1, 1}))));
  EXPECT_THROW(m::roc_auc(doubles({0.1, std::nan("")}), bools({0, 1})), medadv::InvalidInput);
}

TEST(Metrics, RocCurveHasOnePointPerDistinctThreshold) {
  const auto roc = m::roc_curve(tie_scores(), tie_labels());
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(values(roc.thresholds), (std::vector<double>{inf, 0.9, 0.8, 0.7, 0.6, 0.3}));
  const std::vector<double> fpr{0, 0, 1.0 / 3, 1.0 / 3, 2.0 / 3, 1}, tpr{0, 0.25, 0.5, 0.75, 1, 1};
  const auto f = values(roc.fpr), t = values(roc.tpr);
  ASSERT_EQ(f.size(), fpr.size());
  double trapezoid = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    EXPECT_NEAR(f[i], fpr[i], 1e-12) << i;
    EXPECT_NEAR(t[i], tpr[i], 1e-12) << i;
    if (i) trapezoid += (f[i] - f[i - 1]) * (t[i] + t[i - 1]) / 2;
  }
  EXPECT_NEAR(trapezoid, m::roc_auc(tie_scores(), tie_labels()), 1e-12);
  EXPECT_THROW(m::roc_curve(doubles({0.1, 0.2}), bools({0, 0})), medadv::InvalidInput);
}

TEST(Metrics, TprAtTnrTakesTheBestThresholdKeepingTheTnr) {
  // Three negatives: TNR >= 0.9 needs all three below the threshold: thresholds +inf, 0.9.
  EXPECT_NEAR(m::tpr_at_tnr(tie_scores(), tie_labels(), 0.90), 0.25, 1e-12);
  // TNR >= 0.6 allows one false positive: down to threshold 0.7 (TP 3 of 4).
  EXPECT_NEAR(m::tpr_at_tnr(tie_scores(), tie_labels(), 0.6), 0.75, 1e-12);
  // Ten negatives 0.0 .. 0.9: one may be flagged. Threshold 0.85 flags negative 0.9 and the
  // positives 0.85, 0.95, 1.0: TNR exactly 0.9, TPR 3/4.
  std::vector<double> scores{0.85, 0.95, 0.5, 1.0};
  std::vector<int> positive{1, 1, 1, 1};
  for (int i = 0; i < 10; ++i) {
    scores.push_back(i / 10.0);
    positive.push_back(0);
  }
  EXPECT_NEAR(m::tpr_at_tnr(doubles(scores), bools(positive)), 0.75, 1e-12);
  // Perfectly separable: AUC 1 and TPR@90 1 (specs/DETECTORS.md).
  EXPECT_DOUBLE_EQ(m::tpr_at_tnr(doubles({0.1, 0.2, 0.8, 0.9}), bools({0, 0, 1, 1})), 1.0);
  EXPECT_THROW(m::tpr_at_tnr(tie_scores(), tie_labels(), 1.5), medadv::InvalidInput);
}

TEST(Metrics, DetectionAccuracyIsTheBestThresholdAccuracy) {
  // Correct at each threshold (TP + TN): +inf 0+3, 0.9 1+3, 0.8 2+2, 0.7 3+2, 0.6 4+1, 0.3 4+0.
  EXPECT_NEAR(m::detection_accuracy(tie_scores(), tie_labels()), 5.0 / 7.0, 1e-12);
  EXPECT_DOUBLE_EQ(m::detection_accuracy(doubles({0.3, 0.4}), bools({0, 0})), 1.0);
  EXPECT_TRUE(std::isnan(m::detection_accuracy(doubles({}), bools({}))));
}

// ---- segmentation ----------------------------------------------------------------

TEST(Metrics, DiceAndIouPerSampleWithEmptyMasks) {
  // Sample 0: P = {(0,0), (0,1)}, T = {(0,0), (1,0)}: |P&T| = 1, |P| = |T| = 2, |P|T| = 3.
  // Sample 1: both empty.
  const auto pred = torch::tensor({1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}).view({2, 1, 2, 2});
  const auto truth = torch::tensor({1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0}).view({2, 1, 2, 2});
  EXPECT_EQ(values(m::dice_per_sample(pred, truth)), (std::vector<double>{0.5, 1.0}));
  const auto iou = values(m::iou_per_sample(pred, truth));
  EXPECT_NEAR(iou[0], 1.0 / 3.0, 1e-12);
  EXPECT_EQ(iou[1], 1.0);
  EXPECT_DOUBLE_EQ(m::dice(pred, truth), 0.75);
  EXPECT_NEAR(m::iou(pred.to(torch::kBool), truth.to(torch::kLong)), 2.0 / 3.0, 1e-12);
  // One empty, one not: 0.
  EXPECT_EQ(values(m::dice_per_sample(torch::zeros({1, 4}), torch::ones({1, 4}))), (std::vector<double>{0.0}));
  EXPECT_THROW(m::dice(pred * 0.5, truth), medadv::InvalidInput);
  EXPECT_THROW(m::dice(pred, truth.view({2, 4})), medadv::InvalidInput);
}

TEST(Metrics, LabelMapsFromLogits) {
  const auto binary = torch::tensor({-1.0, 2.0, 0.5, -0.1}).view({1, 1, 2, 2});
  EXPECT_TRUE(torch::equal(m::label_map_from_logits(binary), longs({0, 1, 1, 0}).view({1, 1, 2, 2})));
  // Three classes at two pixels: argmax 2 then 0.
  const auto multi = torch::tensor({0.1, 3.0, 0.2, 1.0, 0.5, 2.0}).view({1, 3, 1, 2});
  EXPECT_TRUE(torch::equal(m::label_map_from_logits(multi), longs({2, 0}).view({1, 1, 1, 2})));
}

TEST(Metrics, MeanIouAccumulatesOverTheWholeSet) {
  // Sample 0: pred [0,1,1,2], truth [0,1,2,2]; sample 1: everything class 0.
  // class 0: I = 1 + 4, U = 5 -> 1; class 1: I 1, U 2; class 2: I 1, U 2; class 3 absent.
  const auto pred = longs({0, 1, 1, 2, 0, 0, 0, 0}).view({2, 1, 2, 2});
  const auto truth = longs({0, 1, 2, 2, 0, 0, 0, 0}).view({2, 1, 2, 2});
  EXPECT_NEAR(m::mean_iou(pred, truth, 4), (1.0 + 0.5 + 0.5) / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(m::mean_iou(truth, truth, 3), 1.0);
  EXPECT_THROW(m::mean_iou(pred, truth, 2), medadv::InvalidInput);  // label 2 out of range
  EXPECT_THROW(m::mean_iou(pred.to(torch::kFloat), truth, 4), medadv::InvalidInput);
}

// ---- image quality ---------------------------------------------------------------

TEST(Metrics, PsnrClosedForm) {
  const auto clean = torch::zeros({2, 1, 4, 4});
  auto adversarial = clean.clone();
  adversarial[0].fill_(0.1);  // MSE 0.01 -> 20 dB; sample 1 unchanged -> +inf
  const auto psnr = values(m::psnr_per_sample(clean, adversarial));
  EXPECT_NEAR(psnr[0], 20.0, 1e-5);
  EXPECT_TRUE(std::isinf(psnr[1]) && psnr[1] > 0);
  EXPECT_NEAR(m::mean_psnr(clean, adversarial), 20.0, 1e-5);
  EXPECT_NEAR(values(m::psnr_per_sample(clean, adversarial, 2.0))[0], 10.0 * std::log10(4.0 / 0.01), 1e-5);
  EXPECT_TRUE(std::isinf(m::mean_psnr(clean, clean)));
  EXPECT_THROW(m::psnr_per_sample(clean, adversarial, 0.0), medadv::InvalidInput);
}

TEST(Metrics, SsimOfIdenticalImagesIsOne) {
  const auto x = torch::rand({2, 3, 16, 12}, torch::TensorOptions().dtype(torch::kDouble));
  for (double v : values(m::ssim_per_sample(x, x))) EXPECT_NEAR(v, 1.0, 1e-12);
  EXPECT_THROW(m::ssim_per_sample(torch::zeros({1, 1, 10, 20}), torch::zeros({1, 1, 10, 20})), medadv::InvalidInput);
}

TEST(Metrics, SsimOfConstantImagesIsTheLuminanceTerm) {
  // No variance anywhere: the contrast-structure factor is C2 / C2 = 1.
  const double a = 0.2, b = 0.5, c1 = 0.01 * 0.01;
  const auto clean = torch::full({1, 1, 12, 15}, a, torch::kDouble);
  const auto shifted = torch::full({1, 1, 12, 15}, b, torch::kDouble);
  EXPECT_NEAR(values(m::ssim_per_sample(clean, shifted))[0], (2 * a * b + c1) / (a * a + b * b + c1), 1e-12);
}

TEST(Metrics, SsimMatchesABruteForceWindowComputation) {
  torch::manual_seed(7);
  const int n = 2, channels = 2, h = 14, w = 13;
  const auto x = torch::rand({n, channels, h, w}, torch::TensorOptions().dtype(torch::kDouble));
  const auto y = (x + 0.2 * torch::rand({n, channels, h, w}, torch::TensorOptions().dtype(torch::kDouble))).clamp(0, 1);
  // Independent computation: for every pixel whose 11 x 11 window fits, the 2-D Gaussian
  // weighted statistics summed directly, then the SSIM formula, averaged.
  double weight[11][11], total = 0;
  for (int dy = -5; dy <= 5; ++dy)
    for (int dx = -5; dx <= 5; ++dx) total += weight[dy + 5][dx + 5] = std::exp(-(dx * dx + dy * dy) / (2 * 1.5 * 1.5));
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  const auto xa = x.accessor<double, 4>(), ya = y.accessor<double, 4>();
  const auto computed = values(m::ssim_per_sample(x.to(torch::kFloat), y.to(torch::kFloat)));
  const auto computed_double = values(m::ssim_per_sample(x, y));
  for (int s = 0; s < n; ++s) {
    double per_sample = 0;
    for (int c = 0; c < channels; ++c) {
      double sum = 0;
      int count = 0;
      for (int i = 5; i < h - 5; ++i)
        for (int j = 5; j < w - 5; ++j) {
          double mx = 0, my = 0, mxx = 0, myy = 0, mxy = 0;
          for (int dy = -5; dy <= 5; ++dy)
            for (int dx = -5; dx <= 5; ++dx) {
              const double g = weight[dy + 5][dx + 5] / total;
              const double u = xa[s][c][i + dy][j + dx], v = ya[s][c][i + dy][j + dx];
              mx += g * u, my += g * v, mxx += g * u * u, myy += g * v * v, mxy += g * u * v;
            }
          const double vx = mxx - mx * mx, vy = myy - my * my, cxy = mxy - mx * my;
          sum += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
          ++count;
        }
      per_sample += sum / count / channels;
    }
    EXPECT_NEAR(computed_double[s], per_sample, 1e-10) << s;
    EXPECT_NEAR(computed[s], per_sample, 1e-5) << s;
    EXPECT_LT(per_sample, 0.99);  // the case is not trivial
  }
  EXPECT_NEAR(m::mean_ssim(x, y), (computed_double[0] + computed_double[1]) / 2, 1e-12);
}

// ---- perturbation norms ----------------------------------------------------------

TEST(Metrics, PerturbationNorms) {
  const auto clean = torch::zeros({1, 1, 2, 2});
  const auto adversarial = torch::tensor({0.3f, -0.4f, 0.0f, 0.0f}).view({1, 1, 2, 2});
  EXPECT_NEAR(m::linf_norm(clean, adversarial).item<double>(), 0.4, 1e-6);
  EXPECT_NEAR(m::l2_norm(clean, adversarial).item<double>(), 0.5, 1e-6);
  EXPECT_EQ(m::l0_norm(clean, adversarial).item<double>(), 2.0);
}
