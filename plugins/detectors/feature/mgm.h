#pragma once
// mgm: multivariate Gaussian model (Li and Zhu, ISBI 2020; specs/DETECTORS.md "MGM").
// One full-covariance Gaussian per class and tap over the clean fit features; the score
// is the Mahalanobis distance to the predicted class's Gaussian, averaged over taps.
// Each tap's distance is divided by sqrt(D_l) (its typical value on clean data), so taps
// of different widths weigh alike. Unsupervised: fit never sees adversarial data. The
// score is differentiable in the input.
#include <cstdint>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/detector.h>
#include <medadv/features.h>
#include <medadv/params.h>

#include "class_gaussians.h"
#include "feature_common.h"
#include "mahalanobis.h"

namespace medadv::plugins::feature {

class Mgm : public Detector {
 public:
  static constexpr double kDefaultRidge = 1e-2;

  static void schema(ParamSchema& s) {
    add_taps_option(s, {features::kAllTaps}, "mgm fits one Gaussian per class and tap and averages the distances.");
    add_ridge_option(s, kDefaultRidge);
    add_batch_size_option(s);
  }

  Mgm(const Params& p, RunContext&)
      : requested_(p.get_string_list("taps")), ridge_(p.get_float("ridge")), batch_size_(p.get_int("batch_size")) {}

  std::vector<std::string> taps(const std::vector<std::string>& available) const override {
    return features::select_taps("mgm", requested_, available);
  }
  bool supervised() const override { return false; }
  bool differentiable() const override { return true; }

  void fit(DifferentiableModel& model, const DetectorFitData& data, RunContext& ctx, AttackFactory*) override {
    check_fit_data("mgm", data, false);
    require_classifier("mgm", model);
    taps_ = taps(model.tap_names());
    const auto clean = features::pooled_features(model, *data.clean, taps_, batch_size_, ctx.device());
    const auto labels = data.labels().to(ctx.device(), torch::kLong);
    gaussians_.clear();
    for (const auto& f : clean.features)
      gaussians_.push_back(fit_class_gaussians(f, labels, model.num_classes(), /*tied=*/false, ridge_));
    ctx.log().info("mgm: one Gaussian per class on " + std::to_string(data.size()) + " clean images, " +
                   std::to_string(taps_.size()) + " taps");
  }

  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) override {
    if (gaussians_.empty()) throw Error("mgm: score before fit");
    const auto out = features::pooled_forward(model, x, taps_);
    const auto predicted = predicted_class(out.logits).unsqueeze(1);
    torch::Tensor total;
    for (std::size_t t = 0; t < taps_.size(); ++t) {
      const auto d2 = gaussians_[t].squared_distances(out.features[t]);  // [B, C], +inf for absent classes
      // A predicted class without fit images: the closest class present instead.
      auto own = d2.gather(1, predicted).squeeze(1);
      own = torch::where(torch::isfinite(own), own, std::get<0>(d2.min(1)));
      const auto distance = own.clamp_min(1e-24).sqrt() / std::sqrt(static_cast<double>(out.features[t].size(1)));
      total = total.defined() ? total + distance : distance;
    }
    return (total / static_cast<double>(taps_.size())).to(x.scalar_type());
  }

  const std::vector<ClassGaussians>& gaussians() const { return gaussians_; }

 private:
  std::vector<std::string> requested_;
  double ridge_;
  std::int64_t batch_size_;
  std::vector<std::string> taps_;
  std::vector<ClassGaussians> gaussians_;
};

}  // namespace medadv::plugins::feature
