#pragma once
// feature-match: the feature-matching attack of Sabour et al. (2016) as an add-on term
// (specs/ADAPTIVE.md, HFC Table 3 "Fea"): for every attacked image a guide image of its
// target class is chosen, and the term pulls the image's features at one tap onto the
// guide's:
//   -(1/D) ||f(x') - f(g)||^2,
// maximised with the attack's loss. `guide = "random"` draws the guide among the fit
// split's images of the target class (from the run's seed and the batch's pixels, so that a
// batch gets the same guides whatever ran before it); `"closest"` takes the one whose
// features are nearest to the clean image's. Features are the tap's channel means
// (features::pool), as the feature-space detectors it evades read them and as hfc
// constrains them; keeping the whole maps of every guide candidate would cost C*H*W numbers
// per training image. The guides are chosen once per batch (begin_batch), before the
// attack's first step.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <torch/torch.h>

#include <medadv/attack_term.h>
#include <medadv/error.h>
#include <medadv/features.h>
#include <medadv/hash.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>

#include "target_class.h"

namespace medadv::plugins::adaptive {

class FeatureMatch : public AttackTerm {
 public:
  enum class Guide { Random, Closest };

  static void schema(ParamSchema& s) {
    s.add_string("tap", "penultimate", "The tap whose (channel-mean) features are matched to the guide's")
        .min_length(1);
    s.add_enum<Guide>("guide", {{"random", Guide::Random}, {"closest", Guide::Closest}}, Guide::Random,
                      "How each image's guide is chosen among the fit split's images of its target class: at "
                      "random (seeded), or the one whose features are closest to the clean image's (HFC Table 3: "
                      "Fea-random, Fea-closest)");
  }

  FeatureMatch(const Params& p, RunContext& ctx)
      : tap_(p.get_string("tap")), guide_(p.get_enum<Guide>("guide")), seed_(ctx.seed_for("feature-match/guides")) {}

  std::vector<std::string> taps() const override { return {tap_}; }

  // The candidate guides: the fit split's pooled features at the tap, with their classes.
  void fit(DifferentiableModel& model, const ImageBatches& data, std::int64_t batch_size, RunContext& ctx) override {
    features::select_taps("feature-match", {tap_}, model.tap_names());
    const c10::Device device = ctx.device();
    classes_ = fit_classes("feature-match", data.labels(), device);
    if (data.size() < 1) throw InvalidInput("feature-match: no clean images to choose guides from");
    candidates_ = features::pooled_features(model, data, {tap_}, batch_size, device).features.front().detach();
    num_classes_ = model.num_classes();
  }

  // One guide per image of the batch, among the candidates of its target class.
  void begin_batch(DifferentiableModel& model, const torch::Tensor& clean, const torch::Tensor& labels,
                   const torch::Tensor& targets, RunContext& ctx) override {
    if (!candidates_.defined()) throw Error("feature-match: begin_batch() before fit()");
    const c10::Device device = candidates_.device();
    const torch::Tensor target = target_classes("feature-match", num_classes_, labels, targets, device);
    torch::Tensor clean_features;
    if (guide_ == Guide::Closest) {
      torch::NoGradGuard no_grad;
      clean_features = features::pooled_forward(model, clean, {tap_}).features.front().to(device);
    }
    auto generator = compat::cpu_generator(seed_ ^ batch_fingerprint(clean));
    guides_ = torch::empty({target.size(0), candidates_.size(1)}, candidates_.options());
    const auto wanted = target.cpu();
    for (std::int64_t c = 0; c < num_classes_; ++c) {
      const auto rows = torch::nonzero(wanted == c).flatten();
      if (rows.numel() == 0) continue;
      const auto pool = torch::nonzero(classes_ == c).flatten();
      if (pool.numel() == 0)
        throw InvalidInput("feature-match: target class " + std::to_string(c) +
                           " has no image in the fit split to serve as a guide");
      torch::Tensor chosen;
      if (guide_ == Guide::Random) {
        chosen = pool.index_select(
            0, torch::randint(pool.numel(), {rows.numel()}, generator, torch::kLong).to(pool.device()));
      } else {
        const auto mine = clean_features.index_select(0, rows.to(device));
        const auto theirs = candidates_.index_select(0, pool);
        chosen = pool.index_select(0, torch::cdist(mine, theirs).argmin(1));
      }
      guides_.index_copy_(0, rows.to(device), candidates_.index_select(0, chosen));
    }
    ctx.log().debug("feature-match: " + std::to_string(target.size(0)) + " guides chosen at " + tap_);
  }

  torch::Tensor loss(const ModelOutput& out, const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) override {
    const torch::Tensor f = features::pool(out.tap(tap_));
    if (!guides_.defined() || guides_.size(0) != f.size(0))
      throw Error("feature-match: loss() on a batch of " + std::to_string(f.size(0)) + " images without its guides: "
                  "Objective::begin_batch must run first (the host calls it before each batch)");
    return -(f - guides_.to(f.device(), f.scalar_type())).pow(2).mean(1);
  }

  // The guides' features of the current batch [B, D] (tests).
  const torch::Tensor& guides() const { return guides_; }
  const torch::Tensor& candidates() const { return candidates_; }
  const torch::Tensor& candidate_classes() const { return classes_; }

 private:
  // The batch's pixels hashed (FNV-1a of their float32 bytes).
  static std::uint64_t batch_fingerprint(const torch::Tensor& clean) {
    const torch::Tensor bytes = clean.detach().to(torch::kCPU, torch::kFloat).contiguous();
    return fnv1a64(std::string_view(static_cast<const char*>(bytes.data_ptr()), bytes.nbytes()));
  }

  std::string tap_;
  Guide guide_;
  std::uint64_t seed_;
  torch::Tensor candidates_, classes_;  // fitted: [N, D] pooled features and their classes [N]
  std::int64_t num_classes_ = 0;
  torch::Tensor guides_;  // per batch [B, D]
};

}  // namespace medadv::plugins::adaptive
