#pragma once
// kd-bu: kernel density and Bayesian uncertainty combined (Feinman et al. 2017,
// specs/DETECTORS.md): both scores z-scored and fed to a logistic regression fitted on
// the clean (negative) and adversarial (positive) fit images; the score is its logit.
// The clean fit images' KD scores are taken leave-one-out (each without its own kernel),
// so that they look like the scores of unseen clean images rather than of the KDE's own
// points.
#include <cstdint>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/detector.h>
#include <medadv/logistic_regression.h>
#include <medadv/params.h>

#include "bu.h"
#include "feature_common.h"
#include "kd.h"

namespace medadv::plugins::feature {

class KdBu : public Detector {
 public:
  static void schema(ParamSchema& s) {
    add_kd_options(s);
    add_bu_options(s, "bu_tap");
    add_l2_option(s);
  }

  KdBu(const Params& p, RunContext& ctx) : kd_(kd_options(p), "kd-bu"), bu_(bu_options(p, ctx), "kd-bu") {
    batch_size_ = p.get_int("batch_size");
    regression_options_.l2 = p.get_float("l2");
  }

  std::vector<std::string> taps(const std::vector<std::string>& available) const override {
    auto chosen = kd_.taps(available);
    for (const auto& t : bu_.taps(available))
      if (std::find(chosen.begin(), chosen.end(), t) == chosen.end()) chosen.push_back(t);
    return chosen;
  }
  bool supervised() const override { return true; }

  void fit(DifferentiableModel& model, const DetectorFitData& data, RunContext& ctx, AttackFactory*) override {
    check_fit_data("kd-bu", data, true);
    kd_.fit(model, *data.clean, ctx);
    bu_.fit(model, *data.clean, ctx);
    const auto device = ctx.device();
    const auto clean = torch::stack({kd_.fit_scores_leave_one_out(),
                                     in_batches(*data.clean, batch_size_, device,
                                                [&](const torch::Tensor& x) { return bu_.score(model, x); })},
                                    1);
    const auto adversarial = in_batches(*data.adversarial, batch_size_, device,
                                        [&](const torch::Tensor& x) { return pair(model, x); });
    const auto positive = torch::cat({torch::zeros({clean.size(0)}, torch::kBool),
                                      torch::ones({adversarial.size(0)}, torch::kBool)})
                              .to(device);
    regression_ = LogisticRegression::fit(torch::cat({clean.to(torch::kDouble), adversarial.to(torch::kDouble)}),
                                          positive, regression_options_);
    ctx.log().info("kd-bu: logistic regression on (kd, bu) fitted on " + std::to_string(clean.size(0)) + " clean and " +
                   std::to_string(adversarial.size(0)) + " adversarial images");
  }

  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) override {
    if (!regression_.fitted()) throw Error("kd-bu: score before fit");
    torch::NoGradGuard no_grad;  // not differentiable: bu's dropout passes
    return regression_.predict_logit(pair(model, x));
  }

  const LogisticRegression& regression() const { return regression_; }

 private:
  static BuOptions bu_options(const Params& p, RunContext& ctx) {
    BuOptions o;
    o.tap = p.get_string("bu_tap");
    o.passes = p.get_int("passes");
    o.dropout = p.get_float("dropout");
    o.seed = ctx.seed_for("kd-bu/dropout");
    return o;
  }

  // [B, 2]: (kd, bu) per image, float64.
  torch::Tensor pair(DifferentiableModel& model, const torch::Tensor& x) const {
    return torch::stack({kd_.score(model, x).to(torch::kDouble), bu_.score(model, x).to(torch::kDouble)}, 1);
  }

  KernelDensityScorer kd_;
  BayesianUncertainty bu_;
  std::int64_t batch_size_ = 128;
  LogisticRegressionOptions regression_options_;
  LogisticRegression regression_;
};

}  // namespace medadv::plugins::feature
