#pragma once
// detector-evasion: the attack also lowers the adversarial score of one of the experiment's
// detectors (specs/ADAPTIVE.md; the Medical Aegis paper's WB attack is this term on its
// Shield detector plus the CW margin). The host fits the detector the `detector` parameter
// names exactly as the detector stage does (medadv/detector_term.h) and hands it over;
// the term is minus its score, which the attack maximises:
//   J(x') = -score_D(x').
// Only detectors whose score is differentiable in the input qualify (kd, mahalanobis, mgm,
// gmm, svm, dnn); the host refuses the others before any training.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include <medadv/attack_term.h>
#include <medadv/detector_term.h>
#include <medadv/error.h>
#include <medadv/params.h>

namespace medadv::plugins::adaptive {

class DetectorEvasion : public AttackTerm, public DetectorReadingTerm {
 public:
  static void schema(ParamSchema& s) {
    s.add_string("detector", "",
                 "The label of the [[detector]] of the experiment to evade (its plugin name when it has no "
                 "label); the attack that adds this term names the attack the detector is fitted on with "
                 "`detectors_fit_on`")
        .required()
        .min_length(1);
  }

  DetectorEvasion(const Params& p, RunContext&) : label_(p.get_string("detector")) {}

  std::vector<std::string> taps() const override { return {}; }  // the detector reads its own

  std::string detector_label() const override { return label_; }

  void use_detector(std::shared_ptr<Detector> detector, std::shared_ptr<DifferentiableModel> model) override {
    if (!detector || !model) throw Error("detector-evasion: handed no detector or no model");
    if (!detector->differentiable())
      throw InvalidInput("detector-evasion: the detector '" + label_ + "' has no input gradient to evade");
    detector_ = std::move(detector);
    model_ = std::move(model);
  }

  void fit(DifferentiableModel&, const ImageBatches&, std::int64_t, RunContext&) override {
    if (!detector_) throw Error("detector-evasion: fit() before the host handed over the detector '" + label_ + "'");
  }

  torch::Tensor loss(const ModelOutput&, const torch::Tensor& x_adv, const torch::Tensor&,
                     const torch::Tensor&) override {
    if (!detector_) throw Error("detector-evasion: loss() before the detector '" + label_ + "' was handed over");
    return -detector_->score(*model_, x_adv);
  }

 private:
  std::string label_;
  std::shared_ptr<Detector> detector_;
  std::shared_ptr<DifferentiableModel> model_;
};

}  // namespace medadv::plugins::adaptive
