#pragma once
// feature-stress: the feature stress test (HFC, Ma et al. 2021; Medical Aegis, Ma et al.)
// as an add-on term: it pushes the mean activation of one model tap down (J = mean
// f_tap(x) minimised, i.e. the term -mean is maximised) or up (the term +mean). Run it
// with BIM; with the experiment's `loss = "none"` the term is the whole objective.
// After the attack it reports the tap's mean activation on the clean and on the
// adversarial images and the relative change (summarize).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include <medadv/attack_term.h>
#include <medadv/error.h>
#include <medadv/params.h>

namespace medadv::plugins::stress {

class FeatureStress : public AttackTerm {
 public:
  // The sign of the term: down is -mean f_tap(x), up is +mean f_tap(x).
  enum class Direction { Down = -1, Up = 1 };

  static void schema(ParamSchema& s) {
    s.add_string("tap", "penultimate",
                 "Model tap whose mean activation the term moves (block1 ... blockN, penultimate, or the "
                 "model's own layer names)")
        .min_length(1);
    s.add_enum<Direction>("direction", {{"down", Direction::Down}, {"up", Direction::Up}}, Direction::Down,
                          "Push the tap's mean activation down (the term is -mean f_tap(x)) or up (+mean f_tap(x))");
  }

  FeatureStress(const Params& p, RunContext&)
      : tap_(p.get_string("tap")), sign_(static_cast<double>(p.get_enum<Direction>("direction"))) {}

  std::vector<std::string> taps() const override { return {tap_}; }

  // Nothing to learn from clean data; refuses a model without the tap.
  void fit(DifferentiableModel& model, const ImageBatches&, std::int64_t, RunContext&) override {
    require_tap(model);
  }

  // A mean rather than a sum, so the term's scale does not grow with the tap's size and
  // one weight means the same for every tap.
  torch::Tensor loss(const ModelOutput& out, const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) override {
    return sign_ * mean_activation(out.tap(tap_));
  }

  // stress.<tap>.clean_mean, .adversarial_mean: the tap's mean activation over the split;
  // .relative_change: (adversarial - clean) / |clean| (NaN for a zero clean mean).
  std::map<std::string, double> summarize(DifferentiableModel& model, const ImageBatches& clean,
                                          const ImageBatches& adversarial, std::int64_t batch_size,
                                          RunContext& ctx) override {
    require_tap(model);
    const double before = split_mean(model, clean, batch_size, ctx.device());
    const double after = split_mean(model, adversarial, batch_size, ctx.device());
    const std::string prefix = "stress." + tap_ + ".";
    return {{prefix + "clean_mean", before},
            {prefix + "adversarial_mean", after},
            {prefix + "relative_change",
             before != 0 ? (after - before) / std::abs(before) : std::numeric_limits<double>::quiet_NaN()}};
  }

  // Mean over each sample's elements of a tap, [B].
  static torch::Tensor mean_activation(const torch::Tensor& tap) { return tap.flatten(1).mean(1); }

  const std::string& tap() const { return tap_; }
  double sign() const { return sign_; }

 private:
  void require_tap(DifferentiableModel& model) const {
    const std::vector<std::string> offered = model.tap_names();
    if (std::find(offered.begin(), offered.end(), tap_) != offered.end()) return;
    std::string list;
    for (const auto& name : offered) list += (list.empty() ? "" : ", ") + name;
    throw InvalidInput("feature-stress: the model has no tap '" + tap_ + "'" + did_you_mean(tap_, offered) +
                       "; its taps: " + list);
  }

  // Mean activation of the tap over all images (every image weighs the same), computed
  // in batches on `device`; one host synchronisation at the end.
  double split_mean(DifferentiableModel& model, const ImageBatches& images, std::int64_t batch_size,
                    const c10::Device& device) const {
    const std::int64_t n = images.size();
    if (n == 0) return std::numeric_limits<double>::quiet_NaN();
    torch::NoGradGuard no_grad;
    torch::Tensor total = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
    for (std::int64_t i = 0; i < n; i += batch_size) {
      const auto x = images.images(i, std::min(i + batch_size, n), device);
      total += mean_activation(model.forward(x, {tap_}).tap(tap_)).to(torch::kDouble).sum();
    }
    return total.item<double>() / static_cast<double>(n);
  }

  std::string tap_;
  double sign_;
};

}  // namespace medadv::plugins::stress
