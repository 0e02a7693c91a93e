#pragma once
// The squeezers of feature squeezing (Xu et al. 2018), with the conventions of the
// authors' code (EvadeML-Zoo, numpy / scipy):
//   bit-depth reduction: rint(x * (2^b - 1)) / (2^b - 1), ties to even as numpy's rint
//     (torch::round rounds half to even too);
//   median smoothing: scipy.ndimage.median_filter(x, size=(1, s, s, 1), mode="reflect")
//     per image and channel: the window of output pixel (i, j) covers rows
//     i - s/2 .. i - s/2 + s - 1 (s/2 rounded down) and the same columns, so a 2 x 2
//     window reaches up and left: rows i-1, i and columns j-1, j; the image is extended
//     by scipy's "reflect" (d c b a | a b c d | d c b a: the edge pixel repeated, then
//     the image mirrored), which for a one-pixel border is the edge pixel itself; the
//     median of an even count is scipy's rank filter at rank n / 2 (0-based), i.e. the
//     upper of the two middle values, not their mean (for 2 x 2: the 3rd smallest of 4).
// Both are differentiable where they are (rounding has derivative 0; the median passes
// the gradient to the pixel it selects).
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include <medadv/error.h>

namespace medadv::plugins::squeeze {

inline torch::Tensor reduce_bit_depth(const torch::Tensor& x, std::int64_t bits) {
  if (bits < 1 || bits > 16) throw InvalidInput("feature-squeezing: bits must be in [1, 16], got " + std::to_string(bits));
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

// Median over a size x size window per image and channel, x [B, C, H, W].
inline torch::Tensor median_smooth(const torch::Tensor& x, std::int64_t size) {
  if (x.dim() != 4) throw InvalidInput("feature-squeezing: median smoothing needs [B, C, H, W], got " + c10::str(x.sizes()));
  if (size < 1) throw InvalidInput("feature-squeezing: median window must be >= 1, got " + std::to_string(size));
  if (size == 1) return x;
  const std::int64_t before = size / 2, after = size - 1 - size / 2;
  const torch::Tensor rows = reflect_index(x.size(2), before, after, x.device());
  const torch::Tensor cols = reflect_index(x.size(3), before, after, x.device());
  const torch::Tensor padded = x.index_select(2, rows).index_select(3, cols);
  // [B, C, H, W, size, size] -> [B, C, H, W, size * size]
  const torch::Tensor windows = padded.unfold(2, size, 1).unfold(3, size, 1).flatten(4);
  const std::int64_t rank = (size * size) / 2;  // 0-based, scipy's median rank
  return std::get<0>(torch::kthvalue(windows, rank + 1, /*dim=*/4));
}

}  // namespace medadv::plugins::squeeze
