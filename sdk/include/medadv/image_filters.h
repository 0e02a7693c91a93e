#pragma once
// Image filters shared by plugins: bit-depth reduction, median smoothing and Gaussian blur
// of image batches [B, C, H, W], as batched tensor operations on the input's device. The
// feature-squeezing detector's squeezers and the bit-depth, median and gaussian
// preprocessing defenses use these, so each convention is written down once.
//
// Conventions are those of the feature-squeezing authors' code (EvadeML-Zoo: numpy and
// scipy), so that the detector matches Xu et al.:
//   bit-depth reduction: rint(x * (2^b - 1)) / (2^b - 1), ties to even as numpy's rint
//     (torch::round rounds half to even too);
//   median smoothing: scipy.ndimage.median_filter(x, size=(1, s, s, 1), mode="reflect")
//     per image and channel: the window of output pixel (i, j) covers rows
//     i - s/2 .. i - s/2 + s - 1 (s/2 rounded down) and the same columns, so a 2 x 2
//     window reaches up and left: rows i-1, i and columns j-1, j; the image is extended
//     by scipy's "reflect" (d c b a | a b c d | d c b a: the edge pixel repeated, then
//     the image mirrored), which for a one-pixel border is the edge pixel itself; the
//     median of an even count is scipy's rank filter at rank n / 2 (0-based), i.e. the
//     upper of the two middle values, not their mean (for 2 x 2: the 3rd smallest of 4);
//   Gaussian blur: an odd size x size kernel of sampled, normalised weights
//     exp(-d^2 / (2 sigma^2)), d = -(size-1)/2 .. (size-1)/2 (OpenCV's and torchvision's
//     kernel), applied separably (rows, then columns) over the same scipy "reflect"
//     extension as the median.
// All are differentiable where they are: rounding has derivative 0; the median passes the
// gradient to the pixel it selects; the blur is linear.
#include <cmath>
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "medadv/error.h"

namespace medadv {

// round(x * (2^bits - 1)) / (2^bits - 1), bits in [1, 16].
inline torch::Tensor reduce_bit_depth(const torch::Tensor& x, std::int64_t bits) {
  if (bits < 1 || bits > 16) throw InvalidInput("bit-depth reduction: bits must be in [1, 16], got " + std::to_string(bits));
  const double levels = static_cast<double>((std::int64_t{1} << bits) - 1);
  return torch::round(x * levels) / levels;
}

// Indices into a length-`length` axis for positions -before .. length - 1 + after under
// scipy's "reflect" extension (period 2 * length: a b c d | d c b a | a b c d ...).
inline torch::Tensor reflect_index(std::int64_t length, std::int64_t before, std::int64_t after, c10::Device device) {
  torch::Tensor p = torch::arange(-before, length + after, torch::kLong);
  p = torch::remainder(p, 2 * length);
  p = torch::where(p >= length, 2 * length - 1 - p, p);
  return p.to(device);
}

// x [B, C, H, W] extended by scipy's "reflect" by `before` / `after` rows and columns.
inline torch::Tensor reflect_pad(const torch::Tensor& x, std::int64_t before, std::int64_t after) {
  if (before == 0 && after == 0) return x;
  const torch::Tensor rows = reflect_index(x.size(2), before, after, x.device());
  const torch::Tensor cols = reflect_index(x.size(3), before, after, x.device());
  return x.index_select(2, rows).index_select(3, cols);
}

// Median over a size x size window per image and channel, x [B, C, H, W].
inline torch::Tensor median_smooth(const torch::Tensor& x, std::int64_t size) {
  if (x.dim() != 4) throw InvalidInput("median smoothing needs [B, C, H, W], got " + c10::str(x.sizes()));
  if (size < 1) throw InvalidInput("median smoothing: window must be >= 1, got " + std::to_string(size));
  if (size == 1) return x;
  const torch::Tensor padded = reflect_pad(x, size / 2, size - 1 - size / 2);
  // [B, C, H, W, size, size] -> [B, C, H, W, size * size]
  const torch::Tensor windows = padded.unfold(2, size, 1).unfold(3, size, 1).flatten(4);
  const std::int64_t rank = (size * size) / 2;  // 0-based, scipy's median rank
  return std::get<0>(torch::kthvalue(windows, rank + 1, /*dim=*/4));
}

// The normalised 1-D Gaussian kernel [size] (odd size >= 1, sigma > 0), in `options`.
inline torch::Tensor gaussian_kernel(std::int64_t size, double sigma, const torch::TensorOptions& options) {
  if (size < 1 || size % 2 == 0) throw InvalidInput("Gaussian blur: kernel size must be odd and >= 1, got " + std::to_string(size));
  if (!(sigma > 0) || !std::isfinite(sigma)) throw InvalidInput("Gaussian blur: sigma must be > 0, got " + std::to_string(sigma));
  const torch::Tensor d = torch::arange(size, torch::kDouble) - static_cast<double>(size - 1) / 2.0;
  const torch::Tensor w = torch::exp(-d * d / (2.0 * sigma * sigma));
  return (w / w.sum()).to(options);
}

// Gaussian blur of x [B, C, H, W] (floating point) per image and channel.
inline torch::Tensor gaussian_blur(const torch::Tensor& x, std::int64_t size, double sigma) {
  if (x.dim() != 4) throw InvalidInput("Gaussian blur needs [B, C, H, W], got " + c10::str(x.sizes()));
  const torch::Tensor k = gaussian_kernel(size, sigma, x.options());
  if (size == 1) return x;
  const std::int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), r = size / 2;
  const torch::Tensor planes = reflect_pad(x, r, r).reshape({b * c, 1, h + 2 * r, w + 2 * r});
  torch::Tensor out = torch::conv2d(planes, k.view({1, 1, size, 1}));  // down the rows
  out = torch::conv2d(out, k.view({1, 1, 1, size}));                   // along the columns
  return out.reshape({b, c, h, w});
}

}  // namespace medadv
