#pragma once
// @NAME@: maximum-softmax uncertainty detector (Hendrycks and Gimpel, 2017).
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::Detector {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_float("temperature", 1.0, "divides the logits before the softmax; above 1 flattens it")
        .min_exclusive(0.0);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/) : temperature_(p.get_float("temperature")) {}

  // The logits are all it reads, and every forward returns them.
  std::vector<std::string> taps(const std::vector<std::string>& /*available*/) const override { return {}; }

  bool supervised() const override { return false; }
  bool differentiable() const override { return true; }

  void fit(medadv::DifferentiableModel& model, const medadv::DetectorFitData& data, medadv::RunContext& ctx,
           medadv::AttackFactory* /*attacks*/) override {
    // Nothing to learn. The clean mean score is logged as a reference for thresholds;
    // a batch at a time, since the fit split may not fit in memory.
    torch::NoGradGuard no_grad;
    double total = 0.0;
    const std::int64_t n = data.size();
    for (std::int64_t begin = 0; begin < n; begin += 256)
      total += score(model, data.clean->images(begin, std::min(n, begin + 256), ctx.device())).sum().item<double>();
    ctx.log().info("@NAME@: mean score on " + std::to_string(n) + " clean images: " +
                   std::to_string(total / static_cast<double>(n)));
  }

  torch::Tensor score(medadv::DifferentiableModel& model, const torch::Tensor& x) override {
    const torch::Tensor probs = torch::softmax(model.logits(x) / temperature_, 1);
    const torch::Tensor s = 1.0 - std::get<0>(probs.max(1));
    // Segmentation logits give a score per pixel: average them to one per image.
    return s.dim() > 1 ? s.flatten(1).mean(1) : s;
  }

 private:
  double temperature_;
};
