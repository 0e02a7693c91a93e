#pragma once
// jpeg: JPEG compression and decompression as an input transform (Dziugaite et al. 2016;
// the "Cushion" of Medical Aegis at quality 80), specs/DEFENSES.md "Preprocessors".
// Baseline JFIF as libjpeg(-turbo) codes it, batched with tensor ops on the input's device:
//   1. the input as 8-bit samples: round(clip(x, 0, 1) * 255);
//   2. colour (3 channels): RGB -> YCbCr (JFIF, Cb and Cr offset by 128), rounded to 8 bits;
//      grayscale (1 channel) is the luminance path only; any other channel count is coded
//      as that many grayscale images;
//   3. padding at the bottom and right by edge replication to a multiple of 8 (the
//      luminance; 16 for colour with 4:2:0, whose chroma is then averaged over 2 x 2 pixels
//      and rounded to 8 bits);
//   4. per 8 x 8 block: level shift -128, DCT-II, division by the quantisation table (the
//      IJG / Annex K luminance and chrominance tables scaled by quality as jpeg_set_quality:
//      scale = 5000 / q for q < 50, else 200 - 2q; entry = clamp(floor((Q scale + 50) / 100),
//      1, 255)), rounding, multiplication by the table, inverse DCT, +128, 8-bit samples;
//   5. 4:2:0 chroma back to full size by libjpeg's "fancy" triangle upsampling (3/4 of the
//      nearer and 1/4 of the farther sample in each direction, edges repeated: bilinear
//      interpolation at half-pixel centres), over the chroma's own extent ceil(H/2) x
//      ceil(W/2) as libjpeg does;
//   6. YCbCr -> RGB, rounded and clipped to 8 bits, / 255, cropped back to H x W.
// libjpeg-turbo's integer DCTs and its alternating rounding bias in downsampling differ from
// these floating-point steps by about one grey level on some pixels (the tests hold it to
// PSNR >= 40 dB against libjpeg-turbo's own round trip).
//
// Backward (BPDA): the identity by default. With differentiable = true, the gradient of the
// same pipeline in which the rounding of the quantised DCT coefficients is replaced by
// round(t) + (t - round(t))^3 (Shin and Song 2017) and the 8-bit roundings of samples by the
// identity (their derivative would otherwise vanish on 8-bit input, where every sample is an
// integer); the forward pass is always the real transform.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include <medadv/context.h>
#include <medadv/defense.h>
#include <medadv/error.h>
#include <medadv/params.h>

#include "blocks.h"

namespace medadv::plugins::preprocessors {

enum class ChromaSubsampling { None444, Half420 };

// The Annex K tables (row-major, natural order), as libjpeg's jcparam.c.
inline constexpr int kLuminanceTable[64] = {
    16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,  14, 13, 16, 24,  40,  57,
    69, 56, 14, 17, 22,  29,  51,  87,  80, 62, 18, 22, 37,  56,  68,  109, 103, 77, 24, 35, 55,  64,
    81, 104, 113, 92, 49, 64, 78,  87,  103, 121, 120, 101, 72, 92, 95,  98,  112, 100, 103, 99};
inline constexpr int kChrominanceTable[64] = {
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99,
    99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99};

// A base table scaled to `quality` (1..100) as libjpeg's jpeg_set_quality(.., TRUE):
// [8, 8] double on the CPU.
inline torch::Tensor jpeg_quality_table(const int (&base)[64], std::int64_t quality) {
  if (quality < 1 || quality > 100) throw InvalidInput("jpeg: quality must be in [1, 100], got " + std::to_string(quality));
  const std::int64_t scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  torch::Tensor t = torch::empty({kBlock, kBlock}, torch::kDouble);
  auto a = t.accessor<double, 2>();
  for (int i = 0; i < 64; ++i)
    a[i / 8][i % 8] = static_cast<double>(std::clamp<std::int64_t>((base[i] * scale + 50) / 100, 1, 255));
  return t;
}

// The JPEG round trip of images [B, C, H, W] in [0, 1] (float or double), as described at the
// top of this file. `differentiable`: the Shin-Song approximation of the roundings (for the
// backward pass); false: the exact transform.
class JpegCodec {
 public:
  JpegCodec(std::int64_t quality, ChromaSubsampling subsampling)
      : subsampling_(subsampling),
        luminance_(jpeg_quality_table(kLuminanceTable, quality)),
        chrominance_(jpeg_quality_table(kChrominanceTable, quality)),
        dct_(dct_matrix()) {}

  torch::Tensor apply(const torch::Tensor& x, bool differentiable) const {
    if (x.dim() != 4) throw InvalidInput("jpeg: expected images [B, C, H, W], got " + c10::str(x.sizes()));
    if (!x.is_floating_point()) throw InvalidInput("jpeg: expected floating-point images in [0, 1]");
    const std::int64_t h = x.size(2), w = x.size(3);
    const auto opts = x.options();
    const torch::Tensor dct = dct_.to(opts);
    // 8-bit samples: rounded and clipped; the identity (clip kept) in the approximation.
    const auto sample = [differentiable](const torch::Tensor& t) {
      return differentiable ? t.clamp(0.0, 255.0) : torch::round(t).clamp(0.0, 255.0);
    };
    const auto code = [&](const torch::Tensor& planes, const torch::Tensor& table_cpu) {
      const torch::Tensor table = table_cpu.to(opts);
      const torch::Tensor restored = through_block_dct(planes - 128.0, dct, [&](const torch::Tensor& c) {
        const torch::Tensor t = c / table;
        const torch::Tensor r = torch::round(t);
        return (differentiable ? r + (t - r).pow(3) : r) * table;
      });
      return sample(restored + 128.0);
    };

    const torch::Tensor s = sample(x * 255.0);
    if (x.size(1) != 3) {  // grayscale: each channel through the luminance path
      return code(pad_edges_to_multiple(s, kBlock), luminance_).slice(2, 0, h).slice(3, 0, w) / 255.0;
    }
    const torch::Tensor ycc = sample(rgb_to_ycbcr(s));
    const torch::Tensor y = code(pad_edges_to_multiple(ycc.slice(1, 0, 1), kBlock), luminance_).slice(2, 0, h).slice(3, 0, w);
    torch::Tensor chroma;
    if (subsampling_ == ChromaSubsampling::Half420) {
      const torch::Tensor small = sample(torch::avg_pool2d(pad_edges_to_multiple(ycc.slice(1, 1, 3), 2 * kBlock), {2, 2}));
      const std::int64_t ch = (h + 1) / 2, cw = (w + 1) / 2;
      const torch::Tensor coded = code(small, chrominance_).slice(2, 0, ch).slice(3, 0, cw);
      // libjpeg's h2v2 fancy upsampling = bilinear at half-pixel centres with edges repeated.
      namespace F = torch::nn::functional;
      const auto up = F::InterpolateFuncOptions()
                          .size(std::vector<std::int64_t>{2 * ch, 2 * cw})
                          .mode(torch::kBilinear)
                          .align_corners(false);
      chroma = sample(F::interpolate(coded, up)).slice(2, 0, h).slice(3, 0, w);
    } else {
      chroma = code(pad_edges_to_multiple(ycc.slice(1, 1, 3), kBlock), chrominance_).slice(2, 0, h).slice(3, 0, w);
    }
    return sample(ycbcr_to_rgb(torch::cat({y, chroma}, 1))) / 255.0;
  }

  // JFIF colour conversions on 0..255 values, [B, 3, H, W].
  static torch::Tensor rgb_to_ycbcr(const torch::Tensor& rgb) {
    const torch::Tensor r = rgb.slice(1, 0, 1), g = rgb.slice(1, 1, 2), b = rgb.slice(1, 2, 3);
    return torch::cat({0.299 * r + 0.587 * g + 0.114 * b,
                       -0.168735892 * r - 0.331264108 * g + 0.5 * b + 128.0,
                       0.5 * r - 0.418687589 * g - 0.081312411 * b + 128.0},
                      1);
  }
  static torch::Tensor ycbcr_to_rgb(const torch::Tensor& ycc) {
    const torch::Tensor y = ycc.slice(1, 0, 1), cb = ycc.slice(1, 1, 2) - 128.0, cr = ycc.slice(1, 2, 3) - 128.0;
    return torch::cat({y + 1.402 * cr, y - 0.344136286 * cb - 0.714136286 * cr, y + 1.772 * cb}, 1);
  }

 private:
  ChromaSubsampling subsampling_;
  torch::Tensor luminance_, chrominance_, dct_;  // CPU double
};

class Jpeg : public Preprocessor {
 public:
  static void schema(ParamSchema& s) {
    s.add_int("quality", 80, "JPEG quality as libjpeg's jpeg_set_quality (80: the Medical Aegis Cushion)").min(1).max(100);
    s.add_enum<ChromaSubsampling>("subsampling", {{"4:4:4", ChromaSubsampling::None444}, {"4:2:0", ChromaSubsampling::Half420}},
                                  ChromaSubsampling::Half420,
                                  "chroma subsampling of colour images (4:2:0 is libjpeg's default); grayscale has none");
    s.add_bool("differentiable", false,
               "backward pass through the JPEG pipeline with rounding approximated by round(t) + (t - round(t))^3 "
               "(Shin and Song 2017) instead of the identity (BPDA)");
  }

  Jpeg(const Params& p, RunContext& /*ctx*/)
      : codec_(p.get_int("quality"), p.get_enum<ChromaSubsampling>("subsampling")),
        differentiable_(p.get_bool("differentiable")) {}

  torch::Tensor transform(const torch::Tensor& x) override { return codec_.apply(x, /*differentiable=*/false); }

  torch::Tensor backward_approximation(const torch::Tensor& x) override {
    return differentiable_ ? codec_.apply(x, /*differentiable=*/true) : Preprocessor::backward_approximation(x);
  }

 private:
  JpegCodec codec_;
  bool differentiable_;
};

}  // namespace medadv::plugins::preprocessors
