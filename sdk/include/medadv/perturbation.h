#pragma once
// Norm-ball geometry shared by every attack and by adversarial training: ascent
// directions, projection onto L-inf / L2 balls around the clean image, clipping to the
// [0,1] pixel range, and seeded random starts (ATTACKS.md, conventions).
//
// After every step an attack projects onto the ball around the clean input, then clips
// to [0,1]; clipping only shrinks each |delta| element (the clean image is in [0,1]),
// so the result stays inside the ball. Everything stays on the tensors' device.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/error.h"
#include "medadv/params.h"
#include "medadv/torch_compat.h"

namespace medadv::perturbation {

enum class Norm { Linf, L2 };

// The norms as experiments name them: an attack's `norm` parameter is
//   s.add_enum<Norm>("norm", norm_names(), Norm::Linf, "Norm of the perturbation ball");
inline EnumNames<Norm> norm_names() { return {{"linf", Norm::Linf}, {"l2", Norm::L2}}; }

// The rule of every attack with an `epsilon` ball and a `norm` (both declared before):
// an L-inf radius above 1 exceeds the [0,1] pixel range.
inline void add_linf_epsilon_check(ParamSchema& s) {
  s.add_check("epsilon <= 1 when norm = linf", {"epsilon", "norm"}, [](const Params& p) -> std::optional<std::string> {
    if (p.get_enum<Norm>("norm") == Norm::Linf && p.get_float("epsilon") > 1.0)
      return "an L-inf epsilon above 1 (" + p.text_of("epsilon") + ") exceeds the [0,1] pixel range";
    return std::nullopt;
  });
}

// Guards divisions by a per-sample norm.
inline constexpr double kTiny = 1e-12;

// A per-sample value [B] shaped to broadcast against `like` [B, ...].
inline torch::Tensor per_sample(const torch::Tensor& v, const torch::Tensor& like) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(like.dim()), 1);
  shape[0] = like.size(0);
  return v.reshape(shape);
}

// ||t_b||_2 per sample, [B].
inline torch::Tensor l2_per_sample(const torch::Tensor& t) { return t.flatten(1).norm(2, 1); }

// t_b / ||t_b||_2 per sample (zero where t_b is zero).
inline torch::Tensor l2_normalize(const torch::Tensor& t) {
  return t / per_sample(l2_per_sample(t).clamp_min(kTiny), t);
}

// The steepest-ascent direction of unit size in `norm` for a gradient: sign(g) for
// L-inf, g / ||g||_2 per sample for L2.
inline torch::Tensor ascent_direction(const torch::Tensor& grad, Norm norm) {
  return norm == Norm::Linf ? grad.sign() : l2_normalize(grad);
}

// Projection of a perturbation onto the ball of radius eps: L-inf clamps every element
// to [-eps, eps]; L2 scales each sample by min(1, eps / ||delta_b||_2).
inline torch::Tensor project_delta(const torch::Tensor& delta, Norm norm, double epsilon) {
  if (norm == Norm::Linf) return delta.clamp(-epsilon, epsilon);
  const auto factor = (epsilon / l2_per_sample(delta).clamp_min(kTiny)).clamp_max(1.0);
  return delta * per_sample(factor, delta);
}

// The convention after every step: project x onto the ball around `clean`, then clip to
// [0,1]. Clipping only shrinks each |delta| element (clean is in [0,1]), so the result
// stays inside the ball.
inline torch::Tensor project_and_clip(const torch::Tensor& x, const torch::Tensor& clean, Norm norm,
                                      double epsilon) {
  return (clean + project_delta(x - clean, norm, epsilon)).clamp(0.0, 1.0);
}

// One ascent step of size `step` along `grad`, then project and clip.
inline torch::Tensor ascent_step(const torch::Tensor& x, const torch::Tensor& grad, const torch::Tensor& clean,
                                 Norm norm, double step, double epsilon) {
  return project_and_clip(x + step * ascent_direction(grad, norm), clean, norm, epsilon);
}

// A random point of the ball around `clean` (then clipped to [0,1]): uniform in
// [-eps, eps] per element for L-inf; for L2 uniform in the ball (a normal direction
// scaled to radius eps * u^(1/d), d the elements per sample). Drawn on the CPU from a
// generator seeded with `seed`, then moved to the batch's device, so that a seed gives
// the same start on every device.
inline torch::Tensor random_start(const torch::Tensor& clean, Norm norm, double epsilon, std::uint64_t seed) {
  auto gen = compat::cpu_generator(seed);
  const auto cpu = torch::TensorOptions().dtype(torch::kFloat);
  torch::Tensor delta;
  if (norm == Norm::Linf) {
    delta = (torch::rand(clean.sizes(), gen, cpu) * 2 - 1) * epsilon;
  } else {
    const auto direction = l2_normalize(torch::randn(clean.sizes(), gen, cpu));
    const double d = static_cast<double>(clean.numel() / std::max<std::int64_t>(clean.size(0), 1));
    const auto radius = torch::rand({clean.size(0)}, gen, cpu).pow(1.0 / d) * epsilon;
    delta = direction * per_sample(radius, direction);
  }
  delta = delta.to(clean.device(), clean.scalar_type());
  return project_and_clip(clean + delta, clean, norm, epsilon);
}

}  // namespace medadv::perturbation
