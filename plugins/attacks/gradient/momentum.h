#pragma once
// MIM's momentum (Dong et al. 2018, MI-FGSM): the step follows
//   g_{t+1} = mu * g_t + grad_t / ||grad_t||
// with the gradient normalised per sample before it is accumulated, so that steps with
// small gradients weigh as much as steps with large ones. The paper's normalisation is
// the L1 norm; the authors' code divides by the mean absolute value, which differs by a
// constant factor per sample and so gives the same direction. The HFC code divides by
// the L2 norm instead (and uses mu = 0.5).
#include <string>

#include <torch/torch.h>

#include <medadv/params.h>
#include <medadv/perturbation.h>

namespace medadv::plugins::gradient {

enum class MomentumNormalization { MeanAbs, L2 };

inline EnumNames<MomentumNormalization> momentum_normalization_names() {
  return {{"mean-abs", MomentumNormalization::MeanAbs}, {"l2", MomentumNormalization::L2}};
}

// grad_b / mean(|grad_b|) or grad_b / ||grad_b||_2 per sample (zero where grad_b is zero).
inline torch::Tensor normalize_for_momentum(const torch::Tensor& grad, MomentumNormalization normalization) {
  if (normalization == MomentumNormalization::L2) return perturbation::l2_normalize(grad);
  const auto mean_abs = grad.abs().flatten(1).mean(1).clamp_min(perturbation::kTiny);
  return grad / perturbation::per_sample(mean_abs, grad);
}

// The running momentum of one attack run (one restart): feed it each step's gradient,
// it returns the accumulated direction to step along.
class MomentumAccumulator {
 public:
  MomentumAccumulator(double mu, MomentumNormalization normalization) : mu_(mu), normalization_(normalization) {}

  torch::Tensor operator()(const torch::Tensor& grad) {
    const auto normalized = normalize_for_momentum(grad, normalization_);
    velocity_ = velocity_.defined() ? mu_ * velocity_ + normalized : normalized;
    return velocity_;
  }

 private:
  double mu_;
  MomentumNormalization normalization_;
  torch::Tensor velocity_;  // g_t, undefined before the first step
};

}  // namespace medadv::plugins::gradient
