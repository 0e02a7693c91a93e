#pragma once
// kd: kernel density detector (Feinman et al. 2017, specs/DETECTORS.md "KD"). One Gaussian
// KDE per class over the clean fit features of the chosen taps (penultimate by default);
// an input scores minus its log density under the KDE of its predicted class, averaged
// over taps. Fitted on clean data only; the score is differentiable in the input.
#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/detector.h>
#include <medadv/features.h>
#include <medadv/kernel_density.h>
#include <medadv/params.h>

#include "feature_common.h"

namespace medadv::plugins::feature {

// "auto" selects the bandwidth per tap by leave-one-out likelihood.
struct KdOptions {
  std::vector<std::string> taps{"penultimate"};
  double bandwidth = 1.0;  // 0: auto
  std::int64_t batch_size = 128;
};

// "auto" -> 0; a positive finite number -> itself; anything else -> nothing.
inline std::optional<double> parse_bandwidth(const std::string& text) {
  if (text == "auto") return 0.0;
  std::istringstream in(text);
  double value = 0.0;
  in >> value;
  if (in.fail() || !in.eof() || !(value > 0.0) || !std::isfinite(value)) return std::nullopt;
  return value;
}

inline void add_kd_options(ParamSchema& s) {
  add_taps_option(s, {"penultimate"}, "kd keeps one KDE per class and tap and averages the per-tap scores.");
  s.add_string("bandwidth", "1.0",
               "Gaussian kernel bandwidth in feature units: a positive number (the HFC code's 1.0 by default; "
               "Feinman: 1.20 MNIST, 0.26 CIFAR, 1.00 SVHN) or \"auto\": per tap, the value maximising the "
               "leave-one-out likelihood of the clean fit features on a grid of 17 values around the "
               "nearest-neighbour scale");
  s.add_check("bandwidth is \"auto\" or a positive number", {"bandwidth"},
              [](const Params& p) -> std::optional<std::string> {
                if (parse_bandwidth(p.get_string("bandwidth"))) return std::nullopt;
                return "bandwidth must be \"auto\" or a positive number, got \"" + p.get_string("bandwidth") + "\"";
              });
  add_batch_size_option(s);
}

inline KdOptions kd_options(const Params& p) {
  KdOptions o;
  o.taps = p.get_string_list("taps");
  o.bandwidth = parse_bandwidth(p.get_string("bandwidth")).value();  // the schema's check passed
  o.batch_size = p.get_int("batch_size");
  return o;
}

// The fitted densities of kd, reused by kd-bu.
class KernelDensityScorer {
 public:
  explicit KernelDensityScorer(KdOptions options, std::string who = "kd")
      : options_(std::move(options)), who_(std::move(who)) {}

  std::vector<std::string> taps(const std::vector<std::string>& available) const {
    return features::select_taps(who_, options_.taps, available);
  }

  // `clean` with its class labels.
  void fit(DifferentiableModel& model, const ImageBatches& clean, RunContext& ctx) {
    require_classifier(who_, model);
    taps_ = taps(model.tap_names());
    const auto pooled = features::pooled_features(model, clean, taps_, options_.batch_size, ctx.device());
    const auto classes = clean.labels().to(ctx.device(), torch::kLong);
    const std::int64_t num_classes = model.num_classes();
    if (classes.min().item<std::int64_t>() < 0 || classes.max().item<std::int64_t>() >= num_classes)
      throw InvalidInput(who_ + ": fit labels must lie in [0, " + std::to_string(num_classes) + ")");
    densities_.clear();
    std::string chosen;
    for (std::size_t t = 0; t < taps_.size(); ++t) {
      const double h = options_.bandwidth > 0.0
                           ? options_.bandwidth
                           : ClassKernelDensity::select_bandwidth(pooled.features[t], classes, num_classes);
      densities_.emplace_back(pooled.features[t], classes, num_classes, h);
      chosen += (chosen.empty() ? "" : ", ") + taps_[t] + " " + std::to_string(h);
    }
    ctx.log().info(who_ + ": fitted class KDEs on " + std::to_string(clean.size()) + " clean images; bandwidth " +
                   (options_.bandwidth > 0.0 ? "" : "(auto) ") + chosen);
  }

  // -log density under the predicted class's KDE, averaged over taps [B]; differentiable.
  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) const {
    if (densities_.empty()) throw Error(who_ + ": score before fit");
    const auto out = features::pooled_forward(model, x, taps_);
    const auto classes = predicted_class(out.logits);
    torch::Tensor total;
    for (std::size_t t = 0; t < taps_.size(); ++t) {
      const auto s = -densities_[t].log_density(out.features[t], classes);
      total = total.defined() ? total + s : s;
    }
    return (total / static_cast<double>(taps_.size())).to(out.features.front().scalar_type());
  }

  // The fit images' scores, each without its own kernel (as unseen images would score) [N].
  torch::Tensor fit_scores_leave_one_out() const {
    torch::Tensor total;
    for (const auto& d : densities_) {
      const auto s = -d.log_density_leave_one_out();
      total = total.defined() ? total + s : s;
    }
    return total / static_cast<double>(densities_.size());
  }

  const std::vector<ClassKernelDensity>& densities() const { return densities_; }
  const std::vector<std::string>& fitted_taps() const { return taps_; }

 private:
  KdOptions options_;
  std::string who_;
  std::vector<std::string> taps_;
  std::vector<ClassKernelDensity> densities_;
};

class Kd : public Detector {
 public:
  static void schema(ParamSchema& s) { add_kd_options(s); }
  Kd(const Params& p, RunContext&) : scorer_(kd_options(p)) {}

  std::vector<std::string> taps(const std::vector<std::string>& available) const override {
    return scorer_.taps(available);
  }
  // Density of clean data only: adversarial data are never needed.
  bool supervised() const override { return false; }
  void fit(DifferentiableModel& model, const DetectorFitData& data, RunContext& ctx, AttackFactory*) override {
    check_fit_data("kd", data, false);
    scorer_.fit(model, *data.clean, ctx);
  }
  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) override { return scorer_.score(model, x); }
  bool differentiable() const override { return true; }

  const KernelDensityScorer& scorer() const { return scorer_; }

 private:
  KernelDensityScorer scorer_;
};

}  // namespace medadv::plugins::feature
