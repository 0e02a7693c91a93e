#pragma once
// lid-evasion: the adaptive attack on local intrinsic dimensionality (specs/ADAPTIVE.md,
// HFC Table 3 "LID"): minus the LID estimate of the image's pooled features at each tap
// against a clean reference batch,
//   -(sum over taps) LID_l(x'),  LID = -( (1/k) sum_{i<=k} log(r_i / r_k) )^-1,
// maximised with the attack's loss, so the adversarial features keep the clean images'
// local dimensionality. The estimator is the lid detector's (medadv/lid.h), and the
// reference batch is drawn from the fit split as the detector draws its own (seeded):
// the attacker knows the detector's method and data, not its draw.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include <medadv/attack_term.h>
#include <medadv/error.h>
#include <medadv/features.h>
#include <medadv/lid.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>

namespace medadv::plugins::adaptive {

class LidEvasion : public AttackTerm {
 public:
  static void schema(ParamSchema& s) {
    s.add_list("taps", ParamSpec("", ParamType::String, ""), Value::Array{Value(features::kAllTaps)},
               "Taps whose LID is lowered (the lid detector's default: [\"all\"], every tap but the logits)")
        .min_length(1);
    s.add_int("k", 20, "Nearest neighbours in the estimate (the lid detector's default)").min(2).max(10000);
    s.add_int("reference", 100, "Clean images in the reference batch (the lid detector's default)").min(3).max(100000);
  }

  LidEvasion(const Params& p, RunContext& ctx)
      : requested_(p.get_string_list("taps")),
        k_(p.get_int("k")),
        reference_size_(p.get_int("reference")),
        seed_(ctx.seed_for("lid-evasion/reference")) {}

  // Before fit: the taps asked for (none for ["all"], which needs the model).
  std::vector<std::string> taps() const override {
    if (!taps_.empty()) return taps_;
    if (requested_ == std::vector<std::string>{features::kAllTaps}) return {};
    return requested_;
  }

  void fit(DifferentiableModel& model, const ImageBatches& data, std::int64_t batch_size, RunContext& ctx) override {
    taps_ = features::select_taps("lid-evasion", requested_, model.tap_names());
    const std::int64_t n = data.size();
    const std::int64_t size = std::min(reference_size_, n);
    if (size < 3) throw InvalidInput("lid-evasion: needs at least 3 clean images for its reference batch");
    k_used_ = std::min(k_, size - 1);  // as the detector, whose fit images sit in the batch
    auto gen = compat::cpu_generator(seed_);
    const auto chosen = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong)).slice(0, 0, size);
    const auto reference = features::pooled_features(model, *rows_of(shared_view(data), chosen), taps_, batch_size,
                                                     ctx.device());
    references_.clear();
    for (const auto& f : reference.features) references_.push_back(f.detach().to(torch::kDouble));
    ctx.log().info("lid-evasion: reference batch of " + std::to_string(size) + " clean images, k = " +
                   std::to_string(k_used_) + ", " + std::to_string(taps_.size()) + " taps");
  }

  torch::Tensor loss(const ModelOutput& out, const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) override {
    if (references_.empty()) throw Error("lid-evasion: loss() before fit()");
    torch::Tensor total;
    for (std::size_t t = 0; t < taps_.size(); ++t) {
      const torch::Tensor lid = lid_mle(features::pool(out.tap(taps_[t])), references_[t], k_used_);
      total = total.defined() ? total + lid : lid;
    }
    return -total.to(out.logits.scalar_type());
  }

  const std::vector<torch::Tensor>& references() const { return references_; }
  std::int64_t k() const { return k_used_; }

 private:
  // `data` as a non-owning shared pointer, for rows_of (data outlives the call).
  static std::shared_ptr<const ImageBatches> shared_view(const ImageBatches& data) {
    return std::shared_ptr<const ImageBatches>(&data, [](const ImageBatches*) {});
  }

  std::vector<std::string> requested_;
  std::int64_t k_, reference_size_;
  std::uint64_t seed_;
  std::vector<std::string> taps_;
  std::vector<torch::Tensor> references_;  // fitted: [R, D] per tap, float64
  std::int64_t k_used_ = 0;
};

}  // namespace medadv::plugins::adaptive
