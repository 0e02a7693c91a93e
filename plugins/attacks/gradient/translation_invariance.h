#pragma once
// TIM's gradient smoothing (Dong et al. 2019, TI-FGSM): the gradient is convolved
// depthwise with a normalised Gaussian kernel before the sign, which approximates
// averaging the gradient over small translations of the image. The kernel is the
// authors' gkern: the outer product of the standard normal density sampled at
// linspace(-nsig, nsig, size), divided by its sum.
#include <algorithm>
#include <cstdint>

#include <torch/torch.h>

#include <medadv/error.h>

namespace medadv::plugins::gradient {

// ATTACKS.md: size 7 for images up to 256 px, 15 for larger ones.
inline std::int64_t default_translation_kernel(std::int64_t image_size) { return image_size <= 256 ? 7 : 15; }

// [size, size] float64 on the CPU, summing to 1.
inline torch::Tensor gaussian_kernel(std::int64_t size, double nsig) {
  if (size < 1 || size % 2 == 0)
    throw InvalidInput("the translation kernel size must be odd and positive (got " + std::to_string(size) + ")");
  const auto x = torch::linspace(-nsig, nsig, size, torch::kDouble);
  const auto density = (-0.5 * x * x).exp();  // the normal density up to its constant, which the sum removes
  const auto kernel = torch::outer(density, density);
  return kernel / kernel.sum();
}

// Depthwise 2-D convolution of `grad` [B, C, H, W] with `kernel` [k, k] (odd k), zero
// padding so the shape is kept (TensorFlow's "SAME", as in the authors' code).
inline torch::Tensor smooth_depthwise(const torch::Tensor& grad, const torch::Tensor& kernel) {
  if (grad.dim() != 4) throw InvalidInput("translation smoothing needs gradients of shape [B, C, H, W]");
  const std::int64_t channels = grad.size(1), k = kernel.size(0);
  const auto weight = kernel.to(grad.device(), grad.scalar_type()).expand({channels, 1, k, k}).contiguous();
  return torch::conv2d(grad, weight, /*bias=*/{}, /*stride=*/1, /*padding=*/k / 2, /*dilation=*/1,
                       /*groups=*/channels);
}

// The smoothing of one attack: the kernel is made once, for the images' size unless a
// size is given (0 = by image size), and kept on the gradients' device.
class TranslationSmoothing {
 public:
  // `kernel_size` 0 picks default_translation_kernel(max(H, W)).
  TranslationSmoothing(const torch::Tensor& like, std::int64_t kernel_size, double nsig) {
    const std::int64_t size = kernel_size > 0 ? kernel_size : default_translation_kernel(std::max(like.size(-1), like.size(-2)));
    kernel_ = gaussian_kernel(size, nsig).to(like.device(), like.scalar_type());
  }
  torch::Tensor operator()(const torch::Tensor& grad) const { return smooth_depthwise(grad, kernel_); }
  const torch::Tensor& kernel() const { return kernel_; }

 private:
  torch::Tensor kernel_;
};

}  // namespace medadv::plugins::gradient
