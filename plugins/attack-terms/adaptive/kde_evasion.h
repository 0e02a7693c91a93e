#pragma once
// kde-evasion: Carlini and Wagner's (2017) attack on kernel density detection as an add-on
// term (specs/ADAPTIVE.md, HFC Table 3 "KDE"): the log kernel density of the target class
// at the detector's tap,
//   log p(f(x') | t) = log sum_{i in t} exp(-||f(x') - f_i||^2 / (2 h^2)) - log n_t - (D/2) log(2 pi h^2),
// maximised with the attack's loss (so minus it is minimised), over the fit split's pooled
// features with the kd detector's estimator and bandwidth rule (medadv/kernel_density.h):
// the same density the detector scores, so the term evades exactly it.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include <medadv/attack_term.h>
#include <medadv/error.h>
#include <medadv/features.h>
#include <medadv/kernel_density.h>
#include <medadv/params.h>

#include "target_class.h"

namespace medadv::plugins::adaptive {

class KdeEvasion : public AttackTerm {
 public:
  static void schema(ParamSchema& s) {
    s.add_string("tap", "penultimate", "The tap of the density (the kd detector's default, Feinman et al.'s)")
        .min_length(1);
    s.add_float("bandwidth", 0.0,
                "Kernel bandwidth h; 0 chooses it as the kd detector does (leave-one-out likelihood on the fit "
                "features)")
        .min(0.0)
        .max(1e6);
  }

  KdeEvasion(const Params& p, RunContext&) : tap_(p.get_string("tap")), bandwidth_(p.get_float("bandwidth")) {}

  std::vector<std::string> taps() const override { return {tap_}; }

  void fit(DifferentiableModel& model, const ImageBatches& data, std::int64_t batch_size, RunContext& ctx) override {
    features::select_taps("kde-evasion", {tap_}, model.tap_names());
    const c10::Device device = ctx.device();
    const torch::Tensor classes = fit_classes("kde-evasion", data.labels(), device);
    if (data.size() < 2) throw InvalidInput("kde-evasion: needs at least 2 clean images to fit the class densities");
    num_classes_ = model.num_classes();
    if (classes.min().item<std::int64_t>() < 0 || classes.max().item<std::int64_t>() >= num_classes_)
      throw InvalidInput("kde-evasion: fit labels must lie in [0, " + std::to_string(num_classes_) + ")");
    const torch::Tensor f = features::pooled_features(model, data, {tap_}, batch_size, device).features.front();
    const double h = bandwidth_ > 0.0 ? bandwidth_ : ClassKernelDensity::select_bandwidth(f, classes, num_classes_);
    density_ = ClassKernelDensity(f, classes, num_classes_, h);
    fitted_ = true;
    ctx.log().info("kde-evasion: class densities at " + tap_ + " on " + std::to_string(data.size()) +
                   " clean images, bandwidth " + std::to_string(h));
  }

  torch::Tensor loss(const ModelOutput& out, const torch::Tensor&, const torch::Tensor& labels,
                     const torch::Tensor& targets) override {
    if (!fitted_) throw Error("kde-evasion: loss() before fit()");
    const torch::Tensor f = features::pool(out.tap(tap_));
    const torch::Tensor target = target_classes("kde-evasion", num_classes_, labels, targets, f.device());
    return density_.log_density(f, target).to(f.scalar_type());
  }

  const ClassKernelDensity& density() const { return density_; }

 private:
  std::string tap_;
  double bandwidth_;
  std::int64_t num_classes_ = 0;
  bool fitted_ = false;
  ClassKernelDensity density_;
};

}  // namespace medadv::plugins::adaptive
