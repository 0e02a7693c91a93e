#pragma once
// gmm: Gaussian mixture detector (specs/DETECTORS.md "MGM and GMM"). Per class and tap, a
// K-component full-covariance Gaussian mixture over the clean fit features, fitted by EM
// (medadv/gaussian_mixture.h: k-means++ seeding, ridge 1e-6, at most 1000 iterations,
// tolerance 1e-3); the score is minus the log-likelihood under the predicted class's
// mixture, averaged over taps. Unsupervised; differentiable in the input.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/detector.h>
#include <medadv/features.h>
#include <medadv/gaussian_mixture.h>
#include <medadv/params.h>

#include "feature_common.h"

namespace medadv::plugins::feature {

class Gmm : public Detector {
 public:
  static void schema(ParamSchema& s) {
    add_taps_option(s, {"penultimate"}, "gmm fits one mixture per class and tap and averages the scores.");
    s.add_int("components", 1,
              "Mixture components K per class; a class with fewer fit images than K gets one component per image")
        .min(1)
        .max(4096);
    s.add_float("ridge", 1e-6, "Added to every covariance's diagonal (sklearn's reg_covar)").min_exclusive(0.0).max(1e6);
    s.add_int("max_iterations", 1000, "EM iterations at most").min(1).max(1000000);
    s.add_float("tolerance", 1e-3, "EM stops when the mean log-likelihood per image changes by less").min(0.0).max(1e6);
    add_batch_size_option(s);
  }

  Gmm(const Params& p, RunContext& ctx)
      : requested_(p.get_string_list("taps")), batch_size_(p.get_int("batch_size")), seed_(ctx.seed_for("gmm/em")) {
    options_.components = p.get_int("components");
    options_.ridge = p.get_float("ridge");
    options_.max_iterations = p.get_int("max_iterations");
    options_.tolerance = p.get_float("tolerance");
  }

  std::vector<std::string> taps(const std::vector<std::string>& available) const override {
    return features::select_taps("gmm", requested_, available);
  }
  bool supervised() const override { return false; }
  bool differentiable() const override { return true; }

  void fit(DifferentiableModel& model, const DetectorFitData& data, RunContext& ctx, AttackFactory*) override {
    check_fit_data("gmm", data, false);
    require_classifier("gmm", model);
    taps_ = taps(model.tap_names());
    const auto clean = features::pooled_features(model, *data.clean, taps_, batch_size_, ctx.device());
    const auto labels = data.labels().to(torch::kCPU, torch::kLong);
    const std::int64_t classes = model.num_classes();
    mixtures_.assign(taps_.size(), {});
    std::string report;
    for (std::size_t t = 0; t < taps_.size(); ++t) {
      for (std::int64_t c = 0; c < classes; ++c) {
        const auto members = torch::nonzero(labels.eq(c)).flatten().to(ctx.device());
        // A class without fit images gets the mixture of all of them.
        const auto x = members.numel() > 0 ? clean.features[t].index_select(0, members) : clean.features[t];
        GaussianMixtureOptions o = options_;
        o.components = std::min<std::int64_t>(options_.components, x.size(0));
        o.seed = derive_seed(seed_, taps_[t] + "/" + std::to_string(c));
        mixtures_[t].push_back(GaussianMixture::fit(x, o));
        const auto& g = mixtures_[t].back();
        if (!g.converged())
          ctx.log().warn("gmm: EM for tap " + taps_[t] + ", class " + std::to_string(c) + " stopped after " +
                         std::to_string(g.iterations()) + " iterations without meeting the tolerance");
        report += " " + taps_[t] + "/" + std::to_string(c) + ": K=" + std::to_string(o.components) + ", " +
                  std::to_string(g.iterations()) + " it;";
      }
    }
    ctx.log().info("gmm: mixtures on " + std::to_string(data.size()) + " clean images:" + report);
  }

  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) override {
    if (mixtures_.empty()) throw Error("gmm: score before fit");
    const auto out = features::pooled_forward(model, x, taps_);
    const auto predicted = predicted_class(out.logits).unsqueeze(1);
    torch::Tensor total;
    for (std::size_t t = 0; t < taps_.size(); ++t) {
      std::vector<torch::Tensor> per_class;
      for (const auto& g : mixtures_[t]) per_class.push_back(g.log_likelihood(out.features[t].to(torch::kDouble)));
      const auto s = -torch::stack(per_class, 1).gather(1, predicted).squeeze(1);
      total = total.defined() ? total + s : s;
    }
    return (total / static_cast<double>(taps_.size())).to(x.scalar_type());
  }

  const std::vector<std::vector<GaussianMixture>>& mixtures() const { return mixtures_; }

 private:
  std::vector<std::string> requested_;
  std::int64_t batch_size_;
  std::uint64_t seed_;
  GaussianMixtureOptions options_;
  std::vector<std::string> taps_;
  std::vector<std::vector<GaussianMixture>> mixtures_;  // [tap][class]
};

}  // namespace medadv::plugins::feature
