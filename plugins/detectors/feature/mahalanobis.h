#pragma once
// mahalanobis: Lee et al. 2018 (specs/DETECTORS.md "Mahalanobis"). Per tap, class means
// and one tied covariance from the class-centred clean fit features; the tap's score is
//   s_l(x) = min_c 0.5 (f - mu_c)^T Sigma^-1 (f - mu_c)    (= -M_l(x), higher = more adversarial).
// Input preprocessing (eps_pre > 0): per tap, the input steps by -eps_pre * sign(grad of
// the distance to the closest class), i.e. towards that class's mean, is clipped to
// [0, 1], and is scored again. Taps combine by a logistic regression over the vector of
// per-tap scores (Lee et al., supervised) or by their mean (the HFC and Aegis papers,
// unsupervised), each tap's score divided by its dimension D_l first: 0.5 d^2 averages
// D_l / 2 on clean data, so the mean does not let the widest tap dominate.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <medadv/context.h>
#include <medadv/detector.h>
#include <medadv/features.h>
#include <medadv/logistic_regression.h>
#include <medadv/params.h>

#include "class_gaussians.h"
#include "feature_common.h"

namespace medadv::plugins::feature {

inline void add_ridge_option(ParamSchema& s, double def) {
  s.add_float("ridge", def,
              "Covariance ridge relative to the features' scale: ridge * trace(Sigma) / D is added to the diagonal "
              "(keeps Sigma invertible when a tap has more channels than fit images)")
      .min_exclusive(0.0)
      .max(10.0);
}

class Mahalanobis : public Detector {
 public:
  static constexpr double kDefaultRidge = 1e-2;
  // How the per-tap scores become one.
  enum class Combine { Logistic, Mean };

  static void schema(ParamSchema& s) {
    add_taps_option(s, {features::kAllTaps}, "mahalanobis scores every tap and combines the scores.");
    s.add_epsilon("eps_pre", "0",
                  "Input preprocessing magnitude in pixel units: per tap, step the input by -eps_pre * "
                  "sign(grad) of its distance to the closest class mean before scoring; 0 switches it off (Lee et "
                  "al. choose from 0, 0.0005, 0.001, 0.0014, 0.002, 0.005, 0.01 on validation data)")
        .max(1.0);
    s.add_enum<Combine>("combine", {{"logistic", Combine::Logistic}, {"mean", Combine::Mean}}, Combine::Logistic,
               "How per-tap scores combine: a logistic regression fitted on clean and adversarial fit images (Lee "
               "et al.; supervised), or the mean of the per-tap scores divided by the tap width (HFC / Aegis; "
               "unsupervised, fitted on clean images only)");
    add_ridge_option(s, kDefaultRidge);
    add_l2_option(s);
    add_batch_size_option(s);
  }

  Mahalanobis(const Params& p, RunContext&)
      : requested_(p.get_string_list("taps")),
        eps_pre_(p.get_float("eps_pre")),
        logistic_(p.get_enum<Combine>("combine") == Combine::Logistic),
        ridge_(p.get_float("ridge")),
        batch_size_(p.get_int("batch_size")) {
    regression_options_.l2 = p.get_float("l2");
  }

  std::vector<std::string> taps(const std::vector<std::string>& available) const override {
    return features::select_taps("mahalanobis", requested_, available);
  }
  bool supervised() const override { return logistic_; }
  bool differentiable() const override { return true; }

  void fit(DifferentiableModel& model, const DetectorFitData& data, RunContext& ctx, AttackFactory*) override {
    check_fit_data("mahalanobis", data, logistic_);
    require_classifier("mahalanobis", model);
    taps_ = taps(model.tap_names());
    const auto device = ctx.device();
    const auto clean = features::pooled_features(model, *data.clean, taps_, batch_size_, device);
    const auto labels = data.labels().to(device, torch::kLong);
    gaussians_.clear();
    for (const auto& f : clean.features)
      gaussians_.push_back(fit_class_gaussians(f, labels, model.num_classes(), /*tied=*/true, ridge_));
    if (logistic_) {
      const auto [clean_scores, adversarial_scores] =
          cross_fitted_scores(model, data, clean.features, labels, model.num_classes(), device);
      const auto positive = torch::cat({torch::zeros({clean_scores.size(0)}, torch::kBool),
                                        torch::ones({adversarial_scores.size(0)}, torch::kBool)})
                                .to(device);
      regression_ =
          LogisticRegression::fit(torch::cat({clean_scores, adversarial_scores}), positive, regression_options_);
    }
    ctx.log().info("mahalanobis: class means and tied covariance on " + std::to_string(data.size()) +
                   " clean images, " + std::to_string(taps_.size()) + " taps, eps_pre " + std::to_string(eps_pre_) +
                   ", combine " + (logistic_ ? "logistic" : "mean"));
  }

  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) override {
    if (gaussians_.empty()) throw Error("mahalanobis: score before fit");
    const auto scores = tap_scores(model, x);
    const auto out = logistic_ ? regression_.predict_logit(scores) : scores.mean(1);
    return out.to(x.scalar_type());
  }

  // Per-tap scores [B, L] (float64; divided by the tap width for combine = "mean"),
  // differentiable in x.
  torch::Tensor tap_scores(DifferentiableModel& model, const torch::Tensor& x) const {
    std::vector<torch::Tensor> scores;
    if (eps_pre_ == 0.0) {
      const auto out = features::pooled_forward(model, x, taps_);
      for (std::size_t t = 0; t < taps_.size(); ++t) scores.push_back(tap_score(t, out.features[t]));
    } else {
      const auto directions = preprocessing_directions(model, x);
      for (std::size_t t = 0; t < taps_.size(); ++t) {
        const auto moved = (x - eps_pre_ * directions[t]).clamp(0.0, 1.0);
        scores.push_back(tap_score(t, features::pooled_forward(model, moved, {taps_[t]}).features.front()));
      }
    }
    return torch::stack(scores, 1);
  }

  // 0.5 * squared distance to the closest class [B, C -> B]: the tap's own score.
  torch::Tensor closest_half_squared(std::size_t tap, const torch::Tensor& features) const {
    return 0.5 * std::get<0>(gaussians_[tap].squared_distances(features).min(1));
  }

  const std::vector<ClassGaussians>& gaussians() const { return gaussians_; }
  const std::vector<std::string>& fitted_taps() const { return taps_; }

 private:
  torch::Tensor score_batches(DifferentiableModel& model, const ImageBatches& images, c10::Device device) const {
    return in_batches(images, batch_size_, device, [&](const torch::Tensor& x) { return tap_scores(model, x); });
  }

  // Tap scores of the fit images `rows` from their pooled clean features, already
  // computed by fit; with input preprocessing (which needs the input's gradient) a forward
  // over the images instead.
  torch::Tensor clean_tap_scores(DifferentiableModel& model, const std::shared_ptr<const ImageBatches>& images,
                                 const std::vector<torch::Tensor>& features, const torch::Tensor& rows,
                                 c10::Device device) const {
    if (eps_pre_ != 0.0) return score_batches(model, *rows_of(images, rows), device);
    std::vector<torch::Tensor> scores;
    for (std::size_t t = 0; t < taps_.size(); ++t)
      scores.push_back(tap_score(t, features[t].index_select(0, rows.to(features[t].device()))).detach());
    return torch::stack(scores, 1).to(device);
  }

  // Per-tap scores [N, L] of the fit images for the logistic regression, cross-fitted: in
  // wide taps a clean image's distance to Gaussians fitted on it is far smaller than a
  // new clean image's, so the regression would learn from clean scores unlike those it
  // meets on adv_test (Lee et al. fit it on other data than the Gaussians). Two folds by
  // index parity (no random draw); each fold's clean images and their adversarial
  // versions are scored by the Gaussians of the other fold. Fewer than 4 images: in-sample.
  std::pair<torch::Tensor, torch::Tensor> cross_fitted_scores(DifferentiableModel& model, const DetectorFitData& data,
                                                              const std::vector<torch::Tensor>& clean_features,
                                                              const torch::Tensor& labels, std::int64_t classes,
                                                              c10::Device device) {
    const std::int64_t n = data.size();
    if (n < 4)
      return {clean_tap_scores(model, data.clean, clean_features, torch::arange(n, torch::kLong), device),
              score_batches(model, *data.adversarial, device)};
    const auto fitted_on_all = gaussians_;
    std::vector<torch::Tensor> clean_parts, adversarial_parts, order;
    for (std::int64_t fold = 0; fold < 2; ++fold) {
      const auto held = torch::arange(fold, n, 2, torch::kLong);
      const auto rest = torch::arange(1 - fold, n, 2, torch::kLong);
      gaussians_.clear();
      for (const auto& f : clean_features)
        gaussians_.push_back(fit_class_gaussians(f.index_select(0, rest.to(f.device())),
                                                 labels.index_select(0, rest.to(labels.device())), classes,
                                                 /*tied=*/true, ridge_));
      clean_parts.push_back(clean_tap_scores(model, data.clean, clean_features, held, device));
      adversarial_parts.push_back(
          score_batches(model, *rows_of(data.adversarial, held), device));
      order.push_back(held);
    }
    gaussians_ = fitted_on_all;
    const auto positions = torch::cat(order).to(device);
    const auto unshuffle = [&](const std::vector<torch::Tensor>& parts) {
      const auto stacked = torch::cat(parts);
      return torch::empty_like(stacked).index_copy_(0, positions, stacked);
    };
    return {unshuffle(clean_parts), unshuffle(adversarial_parts)};
  }

  torch::Tensor tap_score(std::size_t tap, const torch::Tensor& features) const {
    const auto s = closest_half_squared(tap, features);
    return logistic_ ? s : s / static_cast<double>(features.size(1));
  }

  // sign(grad_x of the distance to the closest class) per tap, from one forward over all
  // taps; constants (the sign has no useful derivative), so the score stays
  // differentiable in x through the step itself.
  std::vector<torch::Tensor> preprocessing_directions(DifferentiableModel& model, const torch::Tensor& x) const {
    torch::AutoGradMode grad_mode(true);
    const auto probe = x.detach().requires_grad_(true);
    const auto out = features::pooled_forward(model, probe, taps_);
    std::vector<torch::Tensor> directions;
    for (std::size_t t = 0; t < taps_.size(); ++t) {
      const auto loss = closest_half_squared(t, out.features[t]).sum();
      const auto g = torch::autograd::grad({loss}, {probe}, {}, /*retain_graph=*/t + 1 < taps_.size(),
                                           /*create_graph=*/false, /*allow_unused=*/true);
      directions.push_back(g.empty() || !g[0].defined() ? torch::zeros_like(x) : g[0].sign().detach());
    }
    return directions;
  }

  std::vector<std::string> requested_;
  double eps_pre_;
  bool logistic_;
  double ridge_;
  std::int64_t batch_size_;
  LogisticRegressionOptions regression_options_;
  std::vector<std::string> taps_;
  std::vector<ClassGaussians> gaussians_;
  LogisticRegression regression_;
};

}  // namespace medadv::plugins::feature
