#pragma once
// hfc: the hierarchical feature constraint (Yao et al., MICCAI 2021; specs/ADAPTIVE.md), an
// add-on term that hides adversarial examples from feature-space detectors. At each
// constrained tap l it fits, on the clean images of every class, a full-covariance
// Gaussian mixture to the channel means f_l (features::pool), by default as the authors'
// code does (scikit-learn's BayesianGaussianMixture: a Dirichlet-process prior, two
// restarts, up to 1000 iterations; MixturePrior::DirichletProcess); during the attack it keeps
// f_l of each image near the mixture of its target class: the most responsible component
// k' is chosen without gradient at every step, and the term is
//   -(sum over taps) (1/C_l) (f_l - mu_k')^T Sigma_k'^-1 (f_l - mu_k'),
// maximised with the attack's loss. The target class is the objective's target, or the
// other class of a binary task when the attack is untargeted.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include <medadv/attack_term.h>
#include <medadv/error.h>
#include <medadv/features.h>
#include <medadv/gaussian_mixture.h>
#include <medadv/params.h>

#include "target_class.h"

namespace medadv::plugins::adaptive {

class Hfc : public AttackTerm {
 public:
  static void schema(ParamSchema& s) {
    s.add_int("components", 64,
              "Gaussian components per tap and class (the paper: 64 for fundus, 1 for chest X-ray); a class with "
              "fewer clean images gets one per image")
        .min(1)
        .max(1024);
    s.add_list("taps", ParamSpec("", ParamType::String, ""), {},
               "Taps to constrain; empty: every tap but the logits with at most max_channels channels");
    s.add_int("max_channels", 512, "Taps with more channels are left out when `taps` is empty (the paper's cap)")
        .min(1)
        .max(1 << 16);
    s.add_float("ridge", 1e-6, "Added to every covariance's diagonal (the paper's regularisation)").min(0.0).max(1.0);
    s.add_enum<MixturePrior>("mixture", {{"bayesian", MixturePrior::DirichletProcess}, {"em", MixturePrior::None}},
                             MixturePrior::DirichletProcess,
                             "How the mixtures are fitted: `bayesian`, variational with a Dirichlet-process prior "
                             "(the authors' code: scikit-learn's BayesianGaussianMixture), or `em`, maximum "
                             "likelihood (the gmm detector's)");
    s.add_int("iterations", 1000, "Most iterations per mixture fit (the authors' code: 1000)").min(1).max(100000);
    s.add_int("restarts", 2, "Fits from different seeds per mixture, the best kept (the authors' code: 2)")
        .min(1)
        .max(100);
  }

  Hfc(const Params& p, RunContext&)
      : components_(p.get_int("components")),
        requested_taps_(p.get_string_list("taps")),
        max_channels_(p.get_int("max_channels")),
        ridge_(p.get_float("ridge")),
        prior_(p.get_enum<MixturePrior>("mixture")),
        iterations_(p.get_int("iterations")),
        restarts_(p.get_int("restarts")) {}

  // Before fit: the taps asked for (none when chosen by channel count, which needs the model).
  std::vector<std::string> taps() const override { return taps_.empty() ? requested_taps_ : taps_; }

  // One mixture per class and tap, on the clean images' pooled features.
  void fit(DifferentiableModel& model, const ImageBatches& data, std::int64_t batch_size, RunContext& ctx) override {
    const c10::Device device = ctx.device();
    const torch::Tensor y = fit_classes("hfc", data.labels(), device);
    if (data.size() < 1) throw InvalidInput("hfc: no clean images to fit the class mixtures on");
    std::vector<std::string> candidates =
        features::select_taps("hfc", requested_taps_.empty() ? std::vector<std::string>{features::kAllTaps}
                                                             : requested_taps_,
                              model.tap_names());
    const auto pooled = features::pooled_features(model, data, candidates, batch_size, device);
    taps_.clear();
    std::vector<torch::Tensor> kept;
    for (std::size_t t = 0; t < candidates.size(); ++t) {
      if (!requested_taps_.empty() || pooled.features[t].size(1) <= max_channels_) {
        taps_.push_back(candidates[t]);
        kept.push_back(pooled.features[t]);
      }
    }
    if (taps_.empty())
      throw InvalidInput("hfc: every tap of the model has more than max_channels = " + std::to_string(max_channels_) +
                         " channels; raise it or name taps");
    const std::int64_t classes = std::max<std::int64_t>(model.num_classes(), y.max().item<std::int64_t>() + 1);
    mixtures_.assign(static_cast<std::size_t>(classes), {});
    for (std::int64_t c = 0; c < classes; ++c) {
      const auto rows = torch::nonzero(y == c).flatten();
      if (rows.numel() == 0) continue;  // refused in loss() if it is ever a target
      for (std::size_t t = 0; t < taps_.size(); ++t) {
        GaussianMixtureOptions o;
        // The prior needs two images for the class's covariance.
        o.prior = rows.numel() >= 2 ? prior_ : MixturePrior::None;
        o.components = std::min<std::int64_t>(components_, rows.numel());
        o.ridge = ridge_;
        o.max_iterations = iterations_;
        o.restarts = restarts_;
        o.seed = ctx.seed_for("hfc/" + taps_[t] + "/" + std::to_string(c));
        mixtures_[static_cast<std::size_t>(c)].push_back(
            GaussianMixture::fit(kept[t].index_select(0, rows).to(torch::kDouble), o));
      }
    }
  }

  torch::Tensor loss(const ModelOutput& out, const torch::Tensor&, const torch::Tensor& labels,
                     const torch::Tensor& targets) override {
    if (taps_.empty()) throw Error("hfc: loss() before fit()");
    const torch::Tensor target = target_classes("hfc", out.logits.size(1), labels, targets, out.logits.device());
    torch::Tensor value = torch::zeros({out.logits.size(0)}, out.logits.options());
    for (std::size_t t = 0; t < taps_.size(); ++t) {
      const torch::Tensor f = features::pool(out.tap(taps_[t]));
      for (std::size_t c = 0; c < mixtures_.size(); ++c) {
        const auto rows = torch::nonzero(target == static_cast<std::int64_t>(c)).flatten();
        if (rows.numel() == 0) continue;
        if (mixtures_[c].empty())
          throw InvalidInput("hfc: target class " + std::to_string(c) + " has no clean image to fit its mixtures on");
        value = value.index_add(0, rows, -constraint(mixtures_[c][t], f.index_select(0, rows)).to(value.dtype()));
      }
    }
    return value;
  }

  // (1/D) (f - mu_k')^T Sigma_k'^-1 (f - mu_k') per row of f [B, D], k' the most responsible
  // component (chosen without gradient); differentiable in f.
  static torch::Tensor constraint(const GaussianMixture& mixture, const torch::Tensor& f) {
    const auto distances = mixture.squared_mahalanobis(f);  // [B, K]
    const auto chosen = mixture.most_responsible(f.detach());
    return distances.gather(1, chosen.unsqueeze(1)).squeeze(1) / static_cast<double>(f.size(1));
  }

  const std::vector<std::string>& fitted_taps() const { return taps_; }
  // The mixture of `target_class` at the i-th fitted tap.
  const GaussianMixture& mixture(std::int64_t target_class, std::size_t tap) const {
    return mixtures_.at(static_cast<std::size_t>(target_class)).at(tap);
  }

 private:
  std::int64_t components_;
  std::vector<std::string> requested_taps_;
  std::int64_t max_channels_;
  double ridge_;
  MixturePrior prior_;
  std::int64_t iterations_;
  std::int64_t restarts_;
  std::vector<std::string> taps_;                           // fitted
  std::vector<std::vector<GaussianMixture>> mixtures_;      // [class][tap]
};

}  // namespace medadv::plugins::adaptive
