#pragma once
// DIM's input diversity (Xie et al. 2019, DI-2-FGSM): with probability p per step the
// input is resized to a random size in [scale * s, s) and zero-padded back to s at a
// random offset before the forward; the gradient flows back through the transform.
// As in the authors' code, one draw (apply or not, size, offset) serves the whole batch
// at a step, and the resize is nearest-neighbour by default.
//
// The draws come from a CPU generator seeded by the caller (ctx.seed_for(...)): host
// integers, so no device synchronisation, and the same seed gives the same transforms
// on every device.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include <medadv/error.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>

namespace medadv::plugins::gradient {

enum class Interpolation { Nearest, Bilinear };

inline EnumNames<Interpolation> interpolation_names() {
  return {{"nearest", Interpolation::Nearest}, {"bilinear", Interpolation::Bilinear}};
}

// One step's transform: resize to height x width, then place at (top, left) in a zero
// canvas of the original size. `apply` false leaves the input as it is.
struct DiversityDraw {
  bool apply = false;
  std::int64_t height = 0, width = 0, top = 0, left = 0;
};

// Resizes x [B, C, H, W] to [B, C, height, width] and zero-pads it back to H x W with
// the content's top-left corner at (top, left).
inline torch::Tensor resize_and_pad(const torch::Tensor& x, const DiversityDraw& d, Interpolation interpolation) {
  namespace F = torch::nn::functional;
  const std::int64_t h = x.size(2), w = x.size(3);
  if (d.height < 1 || d.width < 1 || d.top < 0 || d.left < 0 || d.top + d.height > h || d.left + d.width > w)
    throw InvalidInput("input diversity: the resized content does not fit the image");
  auto options = F::InterpolateFuncOptions().size(std::vector<std::int64_t>{d.height, d.width});
  if (interpolation == Interpolation::Nearest) options.mode(torch::kNearest);
  else options.mode(torch::kBilinear).align_corners(false);
  const auto resized = F::interpolate(x, options);
  return torch::constant_pad_nd(resized, {d.left, w - d.width - d.left, d.top, h - d.height - d.top}, 0);
}

// The per-step transform of one attack run (one restart).
class InputDiversity {
 public:
  InputDiversity(double probability, double min_scale, Interpolation interpolation, std::uint64_t seed)
      : probability_(probability), min_scale_(min_scale), interpolation_(interpolation),
        generator_(compat::cpu_generator(seed)) {}

  // The next draw for an image of h x w: applied with probability p; the height is
  // uniform over the integers in [ceil(scale * h), h - 1] (at least one pixel smaller
  // when h allows), the width follows the same ratio, the offset is uniform over every
  // placement that keeps the content inside the canvas.
  DiversityDraw draw(std::int64_t h, std::int64_t w) {
    DiversityDraw d;
    const double u = torch::rand({1}, generator_).item<double>();  // CPU tensor: no device sync
    if (u >= probability_ || h < 2) return d;
    const std::int64_t highest = h - 1;
    const std::int64_t lowest = std::min(highest, static_cast<std::int64_t>(std::ceil(min_scale_ * h - 1e-9)));
    d.apply = true;
    d.height = uniform_int(std::max<std::int64_t>(lowest, 1), highest);
    d.width = std::clamp<std::int64_t>(std::llround(static_cast<double>(d.height) * w / h), 1, w);
    d.top = uniform_int(0, h - d.height);
    d.left = uniform_int(0, w - d.width);
    return d;
  }

  torch::Tensor operator()(const torch::Tensor& x) {
    if (x.dim() != 4) throw InvalidInput("input diversity needs images of shape [B, C, H, W]");
    const DiversityDraw d = draw(x.size(2), x.size(3));
    return d.apply ? resize_and_pad(x, d, interpolation_) : x;
  }

 private:
  // Uniform over the integers in [lo, hi].
  std::int64_t uniform_int(std::int64_t lo, std::int64_t hi) {
    return torch::randint(lo, hi + 1, {1}, generator_, torch::kLong).item<std::int64_t>();
  }

  double probability_;
  double min_scale_;
  Interpolation interpolation_;
  at::Generator generator_;
};

}  // namespace medadv::plugins::gradient
