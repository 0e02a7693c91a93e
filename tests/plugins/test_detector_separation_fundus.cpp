// Strength of the svm, dnn and feature-squeezing detectors on the trained fundus victim
// (tests/plugins/trained_victims.h: small-cnn on phantom-fundus, 32 px) against PGD at
// 8/255 (10 steps of 2/255, random start), with the host's protocol
// (host/engine/detector_stage.cpp): fit on the adv_train samples the attack turned
// (classified correctly when clean, misclassified after the attack; clean and
// adversarial versions), score the turned samples of adv_test, ROC AUC of clean vs
// adversarial scores (metrics::roc_auc). One TEST: the victim trains once per process.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>

#include <medadv/metrics.h>
#include <medadv/objective.h>
#include <medadv/params.h>
#include <medadv/testing.h>

#include "attacks/gradient/pgd.h"
#include "detectors/dnn/dnn_detector.h"
#include "detectors/squeeze/feature_squeezing.h"
#include "detectors/svm/svm_detector.h"
#include "trained_victims.h"

namespace {

using medadv::Value;

template <class T>
T make(const std::string& name, medadv::RunContext& ctx, Value::Table overrides = {}) {
  medadv::ParamSchema s;
  T::schema(s);
  return T(s.resolve_or_throw(Value(std::move(overrides)), name), ctx);
}

struct Turned {
  torch::Tensor clean, adversarial, labels;
};

// PGD 8/255 on a split (with early stop or not); the samples it turned, both versions.
Turned attack_split(const medadv::testing::TrainedVictim& v, const torch::Tensor& images, const torch::Tensor& labels,
                    medadv::RunContext& ctx, bool early_stop = false) {
  auto pgd = make<medadv::plugins::gradient::Pgd>("pgd", ctx, {{"epsilon", "8/255"}, {"early_stop", early_stop}});
  medadv::Capability capability = v.white_box();
  const auto result = pgd.run({images, labels, {}}, capability, medadv::Objective(medadv::BaseLoss::CrossEntropy, false), ctx);
  torch::NoGradGuard no_grad;
  const torch::Tensor clean_prediction = v.model->logits(images).argmax(1);
  const torch::Tensor adversarial_prediction = v.model->logits(result.adversarial).argmax(1);
  const torch::Tensor turned = torch::nonzero(medadv::metrics::per_sample_success_untargeted(
                                                  clean_prediction, adversarial_prediction, labels))
                                   .flatten()
                                   .to(images.device());  // the metric answers on the CPU
  return {images.index_select(0, turned), result.adversarial.index_select(0, turned), labels.index_select(0, turned)};
}

double auc_of(medadv::Detector& detector, const medadv::testing::TrainedVictim& v, const Turned& fit,
              const Turned& test, medadv::RunContext& ctx) {
  const auto data = medadv::detector_fit_data(fit.clean, fit.labels,
                                              detector.supervised() ? fit.adversarial : torch::Tensor());
  detector.fit(*v.model, data, ctx, nullptr);
  torch::NoGradGuard no_grad;
  const torch::Tensor scores = torch::cat({detector.score(*v.model, test.clean), detector.score(*v.model, test.adversarial)});
  const torch::Tensor is_adversarial = torch::cat({torch::zeros({test.clean.size(0)}, torch::kBool),
                                                   torch::ones({test.adversarial.size(0)}, torch::kBool)});
  return medadv::metrics::roc_auc(scores, is_adversarial);
}

}  // namespace

TEST(DetectorSeparation, SvmDnnAndFeatureSqueezingOnFundusPgd) {
  const auto& v = medadv::testing::fundus_small_cnn();
  medadv::testing::TestContext ctx(0);
  const Turned fit = attack_split(v, v.adv_train_images, v.adv_train_labels, ctx);
  const Turned test = attack_split(v, v.adv_test_images, v.adv_test_labels, ctx);
  std::cout << "[strength] fundus small-cnn, PGD 8/255: turned " << fit.clean.size(0) << " of "
            << v.adv_train_images.size(0) << " adv_train and " << test.clean.size(0) << " of "
            << v.adv_test_images.size(0) << " adv_test samples\n";
  ASSERT_GE(fit.clean.size(0), 20);
  ASSERT_GE(test.clean.size(0), 10);

  auto timed = [&](const char* name, medadv::Detector& detector) {
    const auto start = std::chrono::steady_clock::now();
    const double auc = auc_of(detector, v, fit, test, ctx);
    std::cout << "[strength] " << name << " AUC " << auc << " ("
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s)\n";
    return auc;
  };
  auto svm = make<medadv::plugins::svm::SvmDetector>("svm", ctx);
  EXPECT_GE(timed("svm (penultimate)", svm), 0.9);
  auto dnn = make<medadv::plugins::dnn::DnnDetector>("dnn", ctx);
  EXPECT_GE(timed("dnn (block3, 300 steps)", dnn), 0.9);
  // Measured (seed 0, CPU): svm 0.986, dnn 1.000, feature-squeezing 0.839. Xu et al.
  // report weak detection of L-inf attacks at large budgets: at 8/255 much of the
  // perturbation survives 5-bit quantisation (steps of 1/31) and 2x2 / 3x3 medians, so
  // the bound asserted is 0.75, not 0.9 (docs/decisions.md).
  auto squeezing = make<medadv::plugins::squeeze::FeatureSqueezing>("feature-squeezing", ctx);
  EXPECT_GE(timed("feature-squeezing (5 bits, median 2x2, 3x3)", squeezing), 0.75);

  // Feature squeezing's own regime: the same budget with early stop, each image stopping at
  // the first step that turns it, close to the decision boundary, where squeezing moves it
  // back (Xu et al.'s strong results are against such minimal attacks).
  const Turned near_test = attack_split(v, v.adv_test_images, v.adv_test_labels, ctx, true);
  ASSERT_GE(near_test.clean.size(0), 10);
  const double near_auc = auc_of(squeezing, v, fit, near_test, ctx);
  std::cout << "[strength] feature-squeezing against PGD 8/255 with early stop (" << near_test.clean.size(0)
            << " turned adv_test samples): AUC " << near_auc << "\n";
  EXPECT_GE(near_auc, 0.9);
}
