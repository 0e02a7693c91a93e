#pragma once
// The maximum-likelihood estimate of local intrinsic dimensionality (Ma et al. 2018):
//   LID(x) = -( (1/k) sum_{i=1..k} log(r_i / r_k) )^-1,
// r_1 <= ... <= r_k the distances from x to its k nearest points of a reference batch. The
// lid detector scores with it and the lid-evasion attack term lowers it: one
// implementation, so that the attack evades the detector's estimate.
#include <cmath>
#include <cstdint>

#include <torch/torch.h>

namespace medadv {

// The MLE LID of every row of `points` [B, D] against `reference` [R, D] with k
// neighbours (k < R when `exclude` may remove one). `exclude` [B, R] bool, optional,
// marks reference points a row must not use (the point itself). [B], float64;
// differentiable in `points` (distances clamped away from 0, so duplicates stay finite).
inline torch::Tensor lid_mle(const torch::Tensor& points, const torch::Tensor& reference, std::int64_t k,
                             const torch::Tensor& exclude = {}) {
  const auto p = points.to(torch::kDouble);
  const auto r = reference.to(p.device(), torch::kDouble);
  auto d2 = (p.pow(2).sum(1, true) - 2.0 * torch::matmul(p, r.t()) + r.pow(2).sum(1).unsqueeze(0)).clamp_min(1e-24);
  if (exclude.defined()) d2 = torch::where(exclude.to(d2.device()), torch::full_like(d2, INFINITY), d2);
  const auto nearest = std::get<0>(torch::topk(d2, k, 1, /*largest=*/false, /*sorted=*/true)).sqrt();  // [B, k]
  const auto mean_log_ratio = (nearest / nearest.slice(1, k - 1, k)).log().mean(1);
  return -1.0 / mean_log_ratio.clamp_max(-1e-12);
}

}  // namespace medadv
