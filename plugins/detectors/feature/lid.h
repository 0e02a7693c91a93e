#pragma once
// lid: local intrinsic dimensionality (Ma et al. 2018, specs/DETECTORS.md "LID"). Per
// tap, the maximum-likelihood estimate
//   LID(x) = -( (1/k) sum_{i=1..k} log(r_i / r_k) )^-1,
// r_1 <= ... <= r_k the distances from x's pooled features to its k nearest points of a
// clean reference batch (default 100 images, k = 20), x itself excluded. A logistic
// regression over the vector of per-tap LIDs separates clean (negative) from
// adversarial (positive) fit images; the score is its logit.
//
// The reference batch is drawn once from the clean fit images (seeded) and kept: score()
// sees only the images it scores, which may all be adversarial, so they cannot serve as
// each other's reference as in Ma et al.'s minibatches. Clean fit images inside the
// reference batch are scored without themselves, like every other image.
#include <cstdint>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/detector.h>
#include <medadv/features.h>
#include <medadv/lid.h>
#include <medadv/logistic_regression.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>

#include "feature_common.h"

namespace medadv::plugins::feature {

class Lid : public Detector {
 public:
  static void schema(ParamSchema& s) {
    add_taps_option(s, {features::kAllTaps}, "lid estimates one LID per tap.");
    s.add_int("k", 20, "Nearest neighbours in the MLE estimate (Ma et al.: 20)").min(2).max(10000);
    s.add_int("reference", 100,
              "Clean fit images in the reference batch (Ma et al.'s minibatch: 100; the HFC code's 10 is too "
              "small); capped at the number of clean fit images")
        .min(3)
        .max(100000);
    add_l2_option(s);
    add_batch_size_option(s);
  }

  Lid(const Params& p, RunContext& ctx)
      : requested_(p.get_string_list("taps")),
        k_(p.get_int("k")),
        reference_size_(p.get_int("reference")),
        batch_size_(p.get_int("batch_size")),
        seed_(ctx.seed_for("lid/reference")) {
    regression_options_.l2 = p.get_float("l2");
  }

  std::vector<std::string> taps(const std::vector<std::string>& available) const override {
    return features::select_taps("lid", requested_, available);
  }
  bool supervised() const override { return true; }

  void fit(DifferentiableModel& model, const DetectorFitData& data, RunContext& ctx, AttackFactory*) override {
    check_fit_data("lid", data, true);
    require_classifier("lid", model);
    taps_ = taps(model.tap_names());
    const auto device = ctx.device();
    const auto clean = features::pooled_features(model, *data.clean, taps_, batch_size_, device);
    const std::int64_t n = data.size();
    const std::int64_t size = std::min(reference_size_, n);
    if (size < 3) throw InvalidInput("lid: needs at least 3 clean fit images for its reference batch");
    k_used_ = std::min(k_, size - 1);
    if (k_used_ < k_)
      ctx.log().warn("lid: only " + std::to_string(size) + " clean fit images for the reference batch; k lowered from " +
                     std::to_string(k_) + " to " + std::to_string(k_used_));
    auto gen = compat::cpu_generator(seed_);
    const auto chosen = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong)).slice(0, 0, size).to(device);
    references_.clear();
    for (const auto& f : clean.features) references_.push_back(f.index_select(0, chosen).to(torch::kDouble));
    // A clean fit image must not be its own neighbour.
    const auto self = torch::arange(n, chosen.options()).unsqueeze(1).eq(chosen.unsqueeze(0));  // [N, R]
    std::vector<torch::Tensor> clean_lids;
    for (std::size_t t = 0; t < taps_.size(); ++t)
      clean_lids.push_back(lid_mle(clean.features[t], references_[t], k_used_, self));
    const auto clean_vectors = torch::stack(clean_lids, 1);
    const auto adversarial_vectors = in_batches(*data.adversarial, batch_size_, device,
                                                [&](const torch::Tensor& x) { return lid_vectors(model, x); });
    const auto positive = torch::cat({torch::zeros({n}, torch::kBool),
                                      torch::ones({adversarial_vectors.size(0)}, torch::kBool)})
                              .to(device);
    regression_ =
        LogisticRegression::fit(torch::cat({clean_vectors, adversarial_vectors}), positive, regression_options_);
    ctx.log().info("lid: reference batch of " + std::to_string(size) + " clean images, k = " + std::to_string(k_used_) +
                   ", " + std::to_string(taps_.size()) + " taps; logistic regression on " + std::to_string(n) +
                   " clean and " + std::to_string(adversarial_vectors.size(0)) + " adversarial images");
  }

  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) override {
    if (!regression_.fitted()) throw Error("lid: score before fit");
    return regression_.predict_logit(lid_vectors(model, x));
  }

  // Per-tap LIDs [B, L] against the reference batch.
  torch::Tensor lid_vectors(DifferentiableModel& model, const torch::Tensor& x) const {
    const auto out = features::pooled_forward(model, x, taps_);
    std::vector<torch::Tensor> lids;
    for (std::size_t t = 0; t < taps_.size(); ++t) lids.push_back(lid_mle(out.features[t], references_[t], k_used_));
    return torch::stack(lids, 1);
  }

  const LogisticRegression& regression() const { return regression_; }

 private:
  std::vector<std::string> requested_;
  std::int64_t k_, reference_size_, batch_size_;
  std::uint64_t seed_;
  LogisticRegressionOptions regression_options_;
  std::vector<std::string> taps_;
  std::vector<torch::Tensor> references_;
  std::int64_t k_used_ = 0;
  LogisticRegression regression_;
};

}  // namespace medadv::plugins::feature
