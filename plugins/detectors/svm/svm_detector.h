#pragma once
// svm: the RBF-SVM detector of SafetyNet (Lu et al. 2017) as specs/DETECTORS.md states
// it: an RBF-kernel C-SVM (C = 1, gamma = "scale" = 1 / (d * var(features))) on the
// globally average-pooled features of the chosen taps (the penultimate layer by
// default), clean = negative, adversarial = positive, trained by libsvm with probability
// outputs (-b 1). The score is libsvm's probability of "adversarial" (or the decision
// value), computed in LibTorch from the fitted model: batched on the run's device and
// differentiable in the input (rbf_svm.h).
#include <cstdint>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/detector.h>
#include <medadv/error.h>
#include <medadv/features.h>
#include <medadv/params.h>

#include "rbf_svm.h"

namespace medadv::plugins::svm {

class SvmDetector : public Detector {
 public:
  static constexpr std::int64_t kFeatureBatch = 128;

  static void schema(ParamSchema& s) {
    s.add_list("taps", ParamSpec("", ParamType::String, ""), {Value("penultimate")},
               "taps whose globally average-pooled features the SVM reads, concatenated in this order; "
               "[\"all\"] = every tap but logits")
        .min_length(1);
    s.add_float("c", 1.0, "the SVM's C (libsvm -c)").min_exclusive(0.0);
    s.add_float("gamma", 0.0,
                "RBF kernel exp(-gamma |u - v|^2) (libsvm -g); 0 = \"scale\": 1 / (d * var(features)) over "
                "the fit features, sklearn's and SafetyNet's choice")
        .min(0.0);
    s.add_bool("probability", true,
               "score = libsvm's probability estimate of 'adversarial' (-b 1: Platt scaling fitted by "
               "5-fold cross-validation); false: the signed decision value (same ranking, no Platt fit)");
  }

  SvmDetector(const Params& p, RunContext& /*ctx*/)
      : taps_(p.get_string_list("taps")), probability_(p.get_bool("probability")) {
    options_.c = p.get_float("c");
    options_.gamma = p.get_float("gamma");
    options_.probability = probability_;
  }

  std::vector<std::string> taps(const std::vector<std::string>& available) const override {
    return features::select_taps("svm", taps_, available);
  }
  bool supervised() const override { return true; }
  bool differentiable() const override { return true; }

  void fit(DifferentiableModel& model, const DetectorFitData& data, RunContext& ctx,
           AttackFactory* /*attacks*/) override {
    if (!data.clean || !data.adversarial)
      throw InvalidInput("svm is supervised: fit needs clean and adversarial images");
    chosen_ = taps(model.tap_names());
    const torch::Tensor clean = pooled(model, *data.clean, ctx.device());
    const torch::Tensor adversarial = pooled(model, *data.adversarial, ctx.device());
    const torch::Tensor features = torch::cat({clean, adversarial});
    const torch::Tensor positive = torch::cat({torch::zeros({clean.size(0)}, torch::kBool),
                                               torch::ones({adversarial.size(0)}, torch::kBool)});
    // The folds of Platt scaling's cross-validation follow the run's seed.
    options_.shuffle_seed = static_cast<unsigned>(ctx.seed_for("svm/platt-folds") & 0x7fffffffU);
    svm_ = RbfSvm::fit(features, positive, options_);
    ctx.log().info("svm: " + std::to_string(svm_.support_vector_count()) + " support vectors of " +
                   std::to_string(features.size(0)) + " fit rows (d = " + std::to_string(features.size(1)) +
                   ", gamma = " + std::to_string(svm_.gamma()) + ")");
  }

  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) override {
    if (chosen_.empty()) throw InvalidInput("svm: score called before fit");
    const auto out = features::pooled_forward(model, x, chosen_);
    const torch::Tensor f = torch::cat(out.features, 1);
    const torch::Tensor s = probability_ ? svm_.probability(f) : svm_.decision(f);
    return s.to(x.scalar_type());
  }

  const RbfSvm& model() const { return svm_; }

 private:
  torch::Tensor pooled(DifferentiableModel& model, const ImageBatches& images, c10::Device device) const {
    return torch::cat(features::pooled_features(model, images, chosen_, kFeatureBatch, device).features, 1);
  }

  std::vector<std::string> taps_;
  bool probability_;
  RbfSvmOptions options_;
  std::vector<std::string> chosen_;
  RbfSvm svm_;
};

}  // namespace medadv::plugins::svm
