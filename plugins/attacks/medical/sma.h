#pragma once
// SMA, the stabilized medical attack (Qi et al., ICLR 2021): I-FGSM on
//   L_dev - lambda * L_sta,   L_sta = KL(softmax f(x + r) || softmax f(x + G*r)),
// where L_dev is the attack's objective (cross-entropy by default, or whatever the
// experiment's objective is, add-on terms included), r the perturbation and G a depthwise
// symmetric Gaussian blur (kernel 3, sigma 1). Penalising the change of the output under
// blurring the perturbation steers the ascent towards perturbations the blur leaves
// alone: smooth, low-frequency ones. With lambda = 0 it is I-FGSM exactly (ATTACKS.md;
// the authors' file defaults to lambda = 0, blurs asymmetrically and does not project:
// none of that is copied).
//
// L_sta enters the objective as an internal add-on term on a copy of it, so the
// iterative loop, projection, clipping and bookkeeping are medadv/white_box.h's.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include <medadv/attack.h>
#include <medadv/attack_term.h>
#include <medadv/params.h>
#include <medadv/perturbation.h>
#include <medadv/white_box.h>

#include "perturbation_blur.h"

namespace medadv::plugins::medical {

using medadv::perturbation::add_linf_epsilon_check;
using medadv::perturbation::Norm;
using medadv::perturbation::norm_names;
using medadv::white_box::iterate;
using medadv::white_box::IterativeConfig;
using medadv::white_box::make_problem;
using medadv::white_box::Problem;
using medadv::white_box::to_result;

// KL(P || Q) per sample [B] between the output distributions of two logit tensors of one
// shape: classification [B,K]: softmax over the classes, summed over them. Segmentation
// [B,K,H,W]: per pixel (a Bernoulli of sigmoid(logit) for K == 1, a softmax over the
// channels for K >= 2), averaged over the pixels so the scale does not grow with the image.
inline torch::Tensor output_kl_per_sample(const torch::Tensor& logits_p, const torch::Tensor& logits_q) {
  if (logits_p.sizes() != logits_q.sizes() || logits_p.dim() < 2)
    throw InvalidInput("sma: the KL term needs two logit tensors of one shape [B,K,...]");
  torch::Tensor per_position;  // [B, ...] summed over the distribution's outcomes
  if (logits_p.dim() > 2 && logits_p.size(1) == 1) {
    // log p and log(1 - p) from the logit, stable for large |logit|.
    const auto log_p1 = torch::log_sigmoid(logits_p), log_p0 = torch::log_sigmoid(-logits_p);
    const auto log_q1 = torch::log_sigmoid(logits_q), log_q0 = torch::log_sigmoid(-logits_q);
    per_position = (log_p1.exp() * (log_p1 - log_q1) + log_p0.exp() * (log_p0 - log_q0)).squeeze(1);
  } else {
    const auto log_p = torch::log_softmax(logits_p, 1), log_q = torch::log_softmax(logits_q, 1);
    per_position = (log_p.exp() * (log_p - log_q)).sum(1);
  }
  return per_position.dim() == 1 ? per_position : per_position.flatten(1).mean(1);
}

// -L_sta as an add-on term of the batch being attacked: it runs the model a second time,
// on the clean image plus the blurred perturbation. The gradient flows through both
// forwards (r appears in both).
class StabilizationTerm : public AttackTerm {
 public:
  StabilizationTerm(DifferentiableModel& model, torch::Tensor clean, torch::Tensor kernel)
      : model_(model), clean_(std::move(clean)), kernel_(std::move(kernel)) {}
  std::vector<std::string> taps() const override { return {}; }
  void fit(DifferentiableModel&, const ImageBatches&, std::int64_t, RunContext&) override {}
  torch::Tensor loss(const ModelOutput& out, const torch::Tensor& x_adv, const torch::Tensor&,
                     const torch::Tensor&) override {
    const auto blurred = clean_ + blur_depthwise(x_adv - clean_, kernel_);
    return -output_kl_per_sample(out.logits, model_.forward(blurred, {}).logits);
  }

 private:
  DifferentiableModel& model_;
  torch::Tensor clean_;
  torch::Tensor kernel_;
};

class Sma : public Attack {
 public:
  static void schema(ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255",
                  "Radius of the norm ball around the clean image, in pixel units ([0,1] images); "
                  "at most 1 for linf");
    s.add_epsilon("step", "0",
                  "Step size per iteration in pixel units (I-FGSM's alpha): along sign(grad) for linf, along "
                  "grad / ||grad||_2 per sample for l2. 0 means epsilon / 10, the classic I-FGSM alpha");
    s.add_int("steps", 10, "Number of iterations (I-FGSM's T)").min(1).max(100000);
    s.add_float("lambda", 1.0,
                "Weight of the stabilisation loss L_sta = KL(softmax f(x+r) || softmax f(x+G*r)) subtracted "
                "from the objective; 0 gives I-FGSM exactly")
        .min(0.0);
    s.add_int("kernel_size", 3, "Size of the Gaussian blur G applied to the perturbation (odd)").min(1).max(31);
    s.add_float("sigma", 1.0, "Standard deviation of the Gaussian blur G, in pixels").min_exclusive(0.0).max(100.0);
    s.add_enum<Norm>("norm", norm_names(), Norm::Linf, "Norm of the perturbation ball");
    s.add_bool("early_stop", false,
               "Stop updating a sample once it succeeds; its iterations then count the steps it took");
    add_linf_epsilon_check(s);
    s.add_check("kernel_size is odd", {"kernel_size"}, [](const Params& p) -> std::optional<std::string> {
      if (p.get_int("kernel_size") % 2 == 0)
        return "kernel_size must be odd, got " + std::to_string(p.get_int("kernel_size"));
      return std::nullopt;
    });
  }

  Sma(const Params& p, RunContext&) {
    iter_.norm = p.get_enum<Norm>("norm");
    iter_.epsilon = p.get_float("epsilon");
    iter_.step = p.get_float("step") > 0 ? p.get_float("step") : iter_.epsilon / 10;
    iter_.steps = p.get_int("steps");
    iter_.early_stop = p.get_bool("early_stop");
    lambda_ = p.get_float("lambda");
    kernel_ = gaussian_kernel(p.get_int("kernel_size"), p.get_float("sigma"));
  }

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext&) override {
    // L_dev is the objective as given; lambda = 0 leaves it untouched (I-FGSM exactly).
    Objective stabilized = objective;
    if (lambda_ > 0)
      stabilized.add_term(std::make_shared<StabilizationTerm>(capability.gradient_model(), batch.images.detach(),
                                                              kernel_.to(batch.images.device(), batch.images.scalar_type())),
                          lambda_, "sma-stabilization");
    const Problem p = make_problem(batch, capability, stabilized, "sma");
    return to_result(iterate(p, p.clean, iter_));
  }

  const IterativeConfig& config() const { return iter_; }
  double lambda() const { return lambda_; }
  const torch::Tensor& kernel() const { return kernel_; }

 private:
  IterativeConfig iter_;
  double lambda_ = 1.0;
  torch::Tensor kernel_;
};

}  // namespace medadv::plugins::medical
