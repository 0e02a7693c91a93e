#pragma once
// bu: Bayesian uncertainty (Feinman et al. 2017, specs/DETECTORS.md "BU"): T forward
// passes with dropout active; the score is the variance over passes of the softmax
// vector, averaged over classes.
//
// Dropout is inserted before the classifier head, for BU only: the models are frozen in
// eval mode and the DifferentiableModel interface reaches only their taps and logits, so
// the head is recovered from the model itself. On the fit images, the Jacobian of the
// logits with respect to the head's input tap (penultimate by default) must be the same
// matrix W for every image and logits = W f + b must hold: the head is affine, and
// (W, b) is the model's own final linear layer. Each pass then applies inverted dropout
// (keep with probability 1 - p, scale by 1 / (1 - p)) to the tap and the recovered head
// to the result. A head that is not affine in the tap is refused with the tap named.
// Every built-in classifier ends in penultimate -> (dropout) -> linear, so for them this
// is exactly MC dropout before the classifier head. Fitted on clean data only (the head
// is a property of the model); the dropout masks come from a seeded CPU generator.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/detector.h>
#include <medadv/features.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>

#include "feature_common.h"

namespace medadv::plugins::feature {

struct BuOptions {
  std::string tap = "penultimate";
  std::int64_t passes = 50;
  double dropout = 0.3;
  std::uint64_t seed = 0;
};

inline void add_bu_options(ParamSchema& s, const std::string& tap_key) {
  if (tap_key == "taps") {
    add_taps_option(s, {"penultimate"},
                    "bu needs exactly one: the input of the classifier head, a [B, D] tap the logits are an affine "
                    "function of.");
    s.add_check("taps names exactly one tap", {"taps"}, [](const Params& p) -> std::optional<std::string> {
      const auto taps = p.get_string_list("taps");
      if (taps.size() == 1 && taps.front() != features::kAllTaps) return std::nullopt;
      return "taps must name exactly one tap, the input of the classifier head (default [\"penultimate\"])";
    });
  } else {
    s.add_string(tap_key, "penultimate",
                 "Tap that feeds the classifier head ([B, D], logits affine in it): BU applies dropout to it");
  }
  s.add_int("passes", 50, "Stochastic forward passes T").min(2).max(10000);
  s.add_float("dropout", 0.3,
              "Dropout probability inserted before the classifier head (the HFC models' value 0.3); 0 switches "
              "dropout off and the score is 0")
      .min(0.0)
      .max(0.99);
}

// The variance of the softmax over dropout passes, averaged over classes.
class BayesianUncertainty {
 public:
  BayesianUncertainty(BuOptions options, std::string who) : options_(std::move(options)), who_(std::move(who)) {}

  std::vector<std::string> taps(const std::vector<std::string>& available) const {
    return features::select_taps(who_, {options_.tap}, available);
  }

  // Recovers the head (W, b) from up to 64 of `clean` and checks it is affine.
  void fit(DifferentiableModel& model, const ImageBatches& clean, RunContext& ctx) {
    require_classifier(who_, model);
    taps(model.tap_names());
    const std::int64_t n = std::min<std::int64_t>(clean.size(), 64);
    torch::AutoGradMode grad_mode(true);
    const auto probe = clean.images(0, n, ctx.device()).detach().requires_grad_(true);
    const ModelOutput out = model.forward(probe, {options_.tap});
    const torch::Tensor& input = out.tap(options_.tap);
    if (input.dim() != 2)
      throw InvalidInput(who_ + ": tap '" + options_.tap + "' has shape " + c10::str(input.sizes()) +
                         "; dropout goes on the head's input, a [B, D] tap (e.g. penultimate)");
    if (!input.requires_grad())
      throw InvalidInput(who_ + ": tap '" + options_.tap + "' does not depend on the input image");
    const std::int64_t classes = out.logits.size(1);
    std::vector<torch::Tensor> rows;
    for (std::int64_t k = 0; k < classes; ++k) {
      const auto g = torch::autograd::grad({out.logits.select(1, k).sum()}, {input}, {}, /*retain_graph=*/true,
                                           /*create_graph=*/false, /*allow_unused=*/true);
      if (g.empty() || !g[0].defined())
        throw InvalidInput(who_ + ": the logits do not depend on tap '" + options_.tap +
                           "'; name the tap that feeds the classifier head");
      rows.push_back(g[0].detach().to(torch::kDouble));
    }
    const auto jacobian = torch::stack(rows, 1);  // [n, K, D]
    weight_ = jacobian.select(0, 0).clone();      // [K, D]
    const auto f = input.detach().to(torch::kDouble);
    const auto logits = out.logits.detach().to(torch::kDouble);
    const auto linear = torch::matmul(f, weight_.t());
    bias_ = (logits - linear).mean(0);
    const double spread = (jacobian - weight_.unsqueeze(0)).abs().max().item<double>();
    const double residual = (logits - linear - bias_).abs().max().item<double>();
    const double weight_scale = weight_.abs().max().item<double>() + 1e-12;
    const double logit_scale = logits.abs().max().item<double>() + 1.0;
    if (spread > 1e-4 * weight_scale || residual > 1e-4 * logit_scale)
      throw InvalidInput(who_ + ": the logits are not an affine function of tap '" + options_.tap +
                         "' (Jacobian spread " + std::to_string(spread / weight_scale) + ", residual " +
                         std::to_string(residual / logit_scale) +
                         " relative), so dropout cannot be inserted before the head there; name the tap that feeds "
                         "the final linear layer");
    ctx.log().info(who_ + ": dropout p = " + std::to_string(options_.dropout) +
                   " inserted before the classifier head for BU only: MC dropout on tap '" + options_.tap +
                   "', then the model's final linear layer (recovered from the logits' Jacobian and checked "
                   "affine on " + std::to_string(n) + " images); " + std::to_string(options_.passes) + " passes");
  }

  // Uncertainty per input [B] (no gradient).
  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) const {
    if (!weight_.defined()) throw Error(who_ + ": score before fit");
    torch::NoGradGuard no_grad;
    const auto f = model.forward(x, {options_.tap}).tap(options_.tap).detach().to(torch::kDouble);
    const auto device = f.device();
    const auto keep = draw_keep_masks(f.size(0), f.size(1)).to(device);  // one copy per batch
    const auto w = weight_.to(device).t();
    const auto b = bias_.to(device);
    const double rescale = 1.0 / (1.0 - options_.dropout);
    std::vector<torch::Tensor> probabilities;
    probabilities.reserve(static_cast<std::size_t>(options_.passes));
    for (std::int64_t t = 0; t < options_.passes; ++t)
      probabilities.push_back(torch::softmax(torch::matmul(f * keep[t] * rescale, w) + b, 1));
    return torch::stack(probabilities).var(0, /*unbiased=*/false).mean(1);
  }

  const torch::Tensor& head_weight() const { return weight_; }
  const torch::Tensor& head_bias() const { return bias_; }

 private:
  // [T, B, D] bool, drawn on the CPU from the detector's seed: the same batch gets the
  // same masks on every call and every device.
  torch::Tensor draw_keep_masks(std::int64_t batch, std::int64_t dim) const {
    auto gen = compat::cpu_generator(options_.seed);
    std::vector<torch::Tensor> masks;
    for (std::int64_t t = 0; t < options_.passes; ++t)
      masks.push_back(torch::rand({batch, dim}, gen, torch::TensorOptions().dtype(torch::kFloat)) >=
                      options_.dropout);
    return torch::stack(masks);
  }

  BuOptions options_;
  std::string who_;
  torch::Tensor weight_, bias_;
};

class Bu : public Detector {
 public:
  static void schema(ParamSchema& s) {
    add_bu_options(s, "taps");
  }
  Bu(const Params& p, RunContext& ctx) : bu_(options(p, ctx), "bu") {}

  std::vector<std::string> taps(const std::vector<std::string>& available) const override {
    return bu_.taps(available);
  }
  // Model uncertainty needs no adversarial data.
  bool supervised() const override { return false; }
  void fit(DifferentiableModel& model, const DetectorFitData& data, RunContext& ctx, AttackFactory*) override {
    check_fit_data("bu", data, false);
    bu_.fit(model, *data.clean, ctx);
  }
  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) override { return bu_.score(model, x); }

  const BayesianUncertainty& uncertainty() const { return bu_; }

 private:
  static BuOptions options(const Params& p, RunContext& ctx) {
    BuOptions o;
    o.tap = p.get_string_list("taps").front();  // exactly one: the schema's check passed
    o.passes = p.get_int("passes");
    o.dropout = p.get_float("dropout");
    o.seed = ctx.seed_for("bu/dropout");
    return o;
  }

  BayesianUncertainty bu_;
};

}  // namespace medadv::plugins::feature
