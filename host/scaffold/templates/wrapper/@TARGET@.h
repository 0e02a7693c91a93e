#pragma once
// @NAME@: averages a model's logits over Gaussian-noised copies of the input.
//
// Implemented inline here so that test_@TARGET@.cpp can use the classes without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <medadv/medadv.h>

// The wrapped model that attacks and the evaluation see.
class @CLASS@Model : public medadv::DifferentiableModel {
 public:
  @CLASS@Model(std::shared_ptr<medadv::DifferentiableModel> base, double sigma, std::int64_t samples,
               std::uint64_t seed)
      : base_(std::move(base)), sigma_(sigma), samples_(samples), generator_(medadv::compat::cpu_generator(seed)) {}

  medadv::ModelOutput forward(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    // Without noise every copy is the same: one forward is enough.
    const std::int64_t n = sigma_ > 0.0 ? samples_ : 1;
    medadv::ModelOutput out;
    torch::Tensor sum;
    for (std::int64_t i = 0; i < n; ++i) {
      // Taps come from the first copy only: detectors and attack terms read one
      // consistent forward instead of paying for every copy's features.
      medadv::ModelOutput o = base_->forward(noisy(x), i == 0 ? taps : std::vector<std::string>{});
      if (i == 0) {
        out.taps = std::move(o.taps);
        sum = o.logits;
      } else {
        sum = sum + o.logits;
      }
    }
    out.logits = sum / static_cast<double>(n);
    // The "logits" tap must agree with the logits the wrapper returns.
    if (auto it = out.taps.find("logits"); it != out.taps.end()) it->second = out.logits;
    return out;
  }

  std::vector<std::string> tap_names() const override { return base_->tap_names(); }
  std::int64_t num_classes() const override { return base_->num_classes(); }
  medadv::Task task() const override { return base_->task(); }
  bool randomized() const override { return sigma_ > 0.0; }

 private:
  torch::Tensor noisy(const torch::Tensor& x) {
    if (sigma_ == 0.0) return x;
    // Drawn on the CPU from the run-seeded generator, so a run replays exactly on any
    // device; the noise is a constant, gradients flow through x.
    const torch::Tensor noise = torch::randn(x.sizes(), generator_, x.options().device(torch::kCPU));
    return (x + sigma_ * noise.to(x.device())).clamp(0.0, 1.0);
  }

  std::shared_ptr<medadv::DifferentiableModel> base_;
  double sigma_;
  std::int64_t samples_;
  at::Generator generator_;
};

class @CLASS@ : public medadv::Wrapper {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_float("sigma", 0.05, "standard deviation of the Gaussian noise, in [0,1] pixel units").min(0.0);
    s.add_int("samples", 8, "noisy copies averaged per forward").min(1).max(10000);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/)
      : sigma_(p.get_float("sigma")), samples_(p.get_int("samples")) {}

  std::shared_ptr<medadv::DifferentiableModel> wrap(std::shared_ptr<medadv::DifferentiableModel> model,
                                                    medadv::RunContext& ctx) override {
    return std::make_shared<@CLASS@Model>(std::move(model), sigma_, samples_, ctx.seed_for("wrapper/@NAME@"));
  }

  bool randomized() const override { return sigma_ > 0.0; }

 private:
  double sigma_;
  std::int64_t samples_;
};
