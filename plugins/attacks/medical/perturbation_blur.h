#pragma once
// The Gaussian blur G of SMA's stabilisation loss (Qi et al. 2021): a depthwise 2-D
// convolution of a perturbation [B,C,H,W] with a normalised, symmetric Gaussian kernel,
// zero-padded so the shape is kept (the perturbation is zero outside the image).
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include <medadv/error.h>

namespace medadv::plugins::medical {

// [size, size] on the CPU (float64), exp(-(i^2 + j^2) / (2 sigma^2)) for i, j in
// [-size/2, size/2], divided by its sum. Symmetric in both axes (the authors' file uses
// an asymmetric kernel; ATTACKS.md asks for the symmetric one).
inline torch::Tensor gaussian_kernel(std::int64_t size, double sigma) {
  if (size < 1 || size % 2 == 0)
    throw InvalidInput("the Gaussian kernel size must be odd and positive (got " + std::to_string(size) + ")");
  if (!(sigma > 0)) throw InvalidInput("the Gaussian sigma must be positive (got " + std::to_string(sigma) + ")");
  const auto offsets = torch::arange(-(size / 2), size / 2 + 1, torch::kDouble);
  const auto taps = (-offsets * offsets / (2 * sigma * sigma)).exp();
  const auto kernel = torch::outer(taps, taps);
  return kernel / kernel.sum();
}

// G * r: every channel of `r` [B,C,H,W] convolved with `kernel` [k,k] (odd k).
inline torch::Tensor blur_depthwise(const torch::Tensor& r, const torch::Tensor& kernel) {
  if (r.dim() != 4) throw InvalidInput("the Gaussian blur needs perturbations of shape [B,C,H,W]");
  const std::int64_t channels = r.size(1), k = kernel.size(0);
  const auto weight = kernel.to(r.device(), r.scalar_type()).expand({channels, 1, k, k}).contiguous();
  return torch::conv2d(r, weight, /*bias=*/{}, /*stride=*/1, /*padding=*/k / 2, /*dilation=*/1,
                       /*groups=*/channels);
}

}  // namespace medadv::plugins::medical
