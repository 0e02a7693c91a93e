#pragma once
// What the two JPEG-style preprocessors share: edge-replicating padding to a block
// multiple, 8 x 8 block tiling, and the orthonormal 8 x 8 DCT-II (which is JPEG's DCT:
// F(u, v) = 1/4 C(u) C(v) sum f(x, y) cos((2x+1) u pi / 16) cos((2y+1) v pi / 16),
// C(0) = 1/sqrt(2), C(u) = 1 otherwise). All batched, on the input's device and dtype.
#include <cmath>
#include <cstdint>

#include <torch/torch.h>

namespace medadv::plugins::preprocessors {

inline constexpr std::int64_t kBlock = 8;

// D [8, 8] (double, CPU): D[u][n] = c(u) cos((2n + 1) u pi / 16), c(0) = sqrt(1/8),
// c(u) = sqrt(2/8); orthonormal, so the 2-D DCT of a block B is D B D^T and its inverse
// D^T C D.
inline torch::Tensor dct_matrix() {
  const double pi = std::acos(-1.0);
  torch::Tensor d = torch::empty({kBlock, kBlock}, torch::kDouble);
  auto a = d.accessor<double, 2>();
  for (std::int64_t u = 0; u < kBlock; ++u)
    for (std::int64_t n = 0; n < kBlock; ++n)
      a[u][n] = std::sqrt((u == 0 ? 1.0 : 2.0) / kBlock) * std::cos(static_cast<double>((2 * n + 1) * u) * pi / 16.0);
  return d;
}

// x [B, C, H, W] padded at the bottom and right to multiples of `multiple` by repeating the
// last row and column (libjpeg's edge extension).
inline torch::Tensor pad_edges_to_multiple(const torch::Tensor& x, std::int64_t multiple) {
  const std::int64_t h = x.size(2), w = x.size(3);
  const std::int64_t ph = (multiple - h % multiple) % multiple, pw = (multiple - w % multiple) % multiple;
  if (ph == 0 && pw == 0) return x;
  const torch::Tensor rows = torch::arange(h + ph, torch::TensorOptions(torch::kLong).device(x.device())).clamp_max(h - 1);
  const torch::Tensor cols = torch::arange(w + pw, torch::TensorOptions(torch::kLong).device(x.device())).clamp_max(w - 1);
  return x.index_select(2, rows).index_select(3, cols);
}

// planes [B, C, H, W] (H, W multiples of 8) -> blocks [B, C, H/8, W/8, 8, 8] and back.
inline torch::Tensor to_blocks(const torch::Tensor& planes) {
  const std::int64_t b = planes.size(0), c = planes.size(1), h = planes.size(2), w = planes.size(3);
  return planes.reshape({b, c, h / kBlock, kBlock, w / kBlock, kBlock}).permute({0, 1, 2, 4, 3, 5});
}
inline torch::Tensor from_blocks(const torch::Tensor& blocks) {
  const std::int64_t b = blocks.size(0), c = blocks.size(1), hb = blocks.size(2), wb = blocks.size(3);
  return blocks.permute({0, 1, 2, 4, 3, 5}).reshape({b, c, hb * kBlock, wb * kBlock});
}

// Each 8 x 8 block of `planes` (H, W multiples of 8) through the 2-D DCT, `quantise` (a
// function of the DCT coefficients returning the dequantised ones) and the inverse DCT.
template <class Quantise>
torch::Tensor through_block_dct(const torch::Tensor& planes, const torch::Tensor& dct, Quantise&& quantise) {
  const torch::Tensor coefficients = torch::matmul(torch::matmul(dct, to_blocks(planes)), dct.t());
  const torch::Tensor restored = torch::matmul(torch::matmul(dct.t(), quantise(coefficients)), dct);
  return from_blocks(restored);
}

}  // namespace medadv::plugins::preprocessors
