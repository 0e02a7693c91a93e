// The preprocessing defenses (plugins/defenses/preprocessors), each against an oracle:
// jpeg against libjpeg-turbo's own compression and decompression of the same 8-bit image;
// freq-jpeg against a per-block computation with the orthonormal DCT written out; bit-depth,
// median and gaussian against direct loops; tvm against the optimality of its
// reconstruction; BPDA gradients against the identity's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <jpeglib.h>  // after <cstdio>: it uses FILE
#include <torch/torch.h>

#include <medadv/defense.h>
#include <medadv/error.h>
#include <medadv/params.h>
#include <medadv/testing.h>
#include <medadv/torch_compat.h>

#include "datasets/phantom/fundus_phantom.h"
#include "defenses/preprocessors/freq_jpeg.h"
#include "defenses/preprocessors/jpeg.h"
#include "defenses/preprocessors/smoothing.h"
#include "defenses/preprocessors/tvm.h"

namespace {

namespace pp = medadv::plugins::preprocessors;
using medadv::Value;

template <class Plugin>
medadv::Params preproc_params(const std::string& name, Value::Table table = {}) {
  medadv::ParamSchema s;
  Plugin::schema(s);
  return s.resolve_or_throw(Value(std::move(table)), name);
}

// Test images [2, 3, H, W] in [0, 1], 8-bit values: a fundus phantom (sharp field-of-view
// edge, vessels, acquisition noise) and a smooth random colour field, cropped to a size
// that is a multiple of neither 8 nor 16.
torch::Tensor preproc_test_images(std::int64_t h, std::int64_t w) {
  at::Generator gen = medadv::compat::cpu_generator(7);
  medadv::plugins::phantom::FundusSpec spec;
  spec.image_size = 64;
  const torch::Tensor fundus = medadv::plugins::phantom::render_fundus(spec, gen).to(torch::kDouble);
  const torch::Tensor coarse = torch::rand({1, 3, 6, 6}, gen, torch::TensorOptions(torch::kDouble));
  namespace F = torch::nn::functional;
  const torch::Tensor field =
      F::interpolate(coarse, F::InterpolateFuncOptions().size(std::vector<std::int64_t>{64, 64}).mode(torch::kBicubic).align_corners(false))
          .clamp(0.0, 1.0);
  const torch::Tensor both = torch::cat({fundus.unsqueeze(0), field}).slice(2, 0, h).slice(3, 0, w);
  return torch::round(both * 255.0) / 255.0;
}

// libjpeg-turbo's compression (jpeg_set_quality(q, TRUE), default ISLOW DCT) and
// decompression (default fancy upsampling) of one 8-bit image, rows of `components` samples.
std::vector<std::uint8_t> preproc_libjpeg_round_trip(const std::vector<std::uint8_t>& samples, int width, int height,
                                                     int components, int quality, bool subsample_420) {
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  {
    jpeg_compress_struct info{};
    jpeg_error_mgr errors{};
    info.err = jpeg_std_error(&errors);
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, &buffer, &size);
    info.image_width = static_cast<JDIMENSION>(width);
    info.image_height = static_cast<JDIMENSION>(height);
    info.input_components = components;
    info.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    if (components == 3) {
      const int factor = subsample_420 ? 2 : 1;
      info.comp_info[0].h_samp_factor = info.comp_info[0].v_samp_factor = factor;
      for (int c = 1; c < 3; ++c) info.comp_info[c].h_samp_factor = info.comp_info[c].v_samp_factor = 1;
    }
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
      JSAMPROW row = const_cast<JSAMPROW>(samples.data() + static_cast<std::size_t>(info.next_scanline) * width * components);
      jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(width) * height * components);
  {
    jpeg_decompress_struct info{};
    jpeg_error_mgr errors{};
    info.err = jpeg_std_error(&errors);
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, buffer, size);
    jpeg_read_header(&info, TRUE);
    jpeg_start_decompress(&info);
    EXPECT_EQ(static_cast<int>(info.output_components), components);
    while (info.output_scanline < info.output_height) {
      JSAMPROW row = out.data() + static_cast<std::size_t>(info.output_scanline) * width * components;
      jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
  }
  std::free(buffer);
  return out;
}

// libjpeg's round trip of every image of x [B, C, H, W] (8-bit values in [0, 1]), as x.
torch::Tensor preproc_libjpeg(const torch::Tensor& x, int quality, bool subsample_420) {
  const int c = static_cast<int>(x.size(1)), h = static_cast<int>(x.size(2)), w = static_cast<int>(x.size(3));
  std::vector<torch::Tensor> decoded;
  for (std::int64_t i = 0; i < x.size(0); ++i) {
    const torch::Tensor hwc = torch::round(x[i] * 255.0).permute({1, 2, 0}).contiguous().to(torch::kUInt8);
    std::vector<std::uint8_t> samples(hwc.data_ptr<std::uint8_t>(), hwc.data_ptr<std::uint8_t>() + hwc.numel());
    std::vector<std::uint8_t> out = preproc_libjpeg_round_trip(samples, w, h, c, quality, subsample_420);
    decoded.push_back(torch::tensor(out, torch::kUInt8).view({h, w, c}).permute({2, 0, 1}).to(torch::kDouble) / 255.0);
  }
  return torch::stack(decoded);
}

// PSNR in dB of each image of a against b (values in [0, 1]).
std::vector<double> preproc_psnr(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor mse = (a - b).square().flatten(1).mean(1);
  std::vector<double> out;
  for (std::int64_t i = 0; i < mse.size(0); ++i) out.push_back(10.0 * std::log10(1.0 / mse[i].item<double>()));
  return out;
}

// scipy's "reflect" of an index into [0, n) (one reflection: |overshoot| < n).
std::int64_t preproc_reflect(std::int64_t i, std::int64_t n) {
  if (i < 0) return -i - 1;
  if (i >= n) return 2 * n - 1 - i;
  return i;
}

torch::Tensor preproc_random(std::vector<std::int64_t> shape, std::uint64_t seed) {
  at::Generator gen = medadv::compat::cpu_generator(seed);
  return torch::rand(shape, gen, torch::TensorOptions(torch::kDouble));
}

}  // namespace

// ---- jpeg ---------------------------------------------------------------------------

TEST(PreprocessorJpeg, SchemaDefaultsAndRanges) {
  const auto p = preproc_params<pp::Jpeg>("jpeg");
  EXPECT_EQ(p.get_int("quality"), 80);
  EXPECT_EQ(p.get_enum<pp::ChromaSubsampling>("subsampling"), pp::ChromaSubsampling::Half420);
  EXPECT_FALSE(p.get_bool("differentiable"));
  EXPECT_THROW(preproc_params<pp::Jpeg>("jpeg", {{"quality", 0}}), medadv::ValidationError);
  EXPECT_THROW(preproc_params<pp::Jpeg>("jpeg", {{"quality", 101}}), medadv::ValidationError);
  EXPECT_THROW(preproc_params<pp::Jpeg>("jpeg", {{"subsampling", "4:2:2"}}), medadv::ValidationError);
}

TEST(PreprocessorJpeg, QualityTablesAsJpegSetQuality) {
  // Quality 50 is the base table, 100 all ones; 80 scales by 40%: floor((16 * 40 + 50) / 100) = 6.
  const torch::Tensor base = pp::jpeg_quality_table(pp::kLuminanceTable, 50);
  EXPECT_EQ(base[0][0].item<double>(), 16);
  EXPECT_EQ(base[7][7].item<double>(), 99);
  EXPECT_EQ(base[4][5].item<double>(), 109);
  EXPECT_TRUE(torch::equal(pp::jpeg_quality_table(pp::kChrominanceTable, 100), torch::ones({8, 8}, torch::kDouble)));
  EXPECT_EQ(pp::jpeg_quality_table(pp::kLuminanceTable, 80)[0][0].item<double>(), 6);
  // Quality 10: scale 500; 99 * 5 = 495 stays, 121 * 5 = 605 clamps to 255.
  EXPECT_EQ(pp::jpeg_quality_table(pp::kChrominanceTable, 10)[7][7].item<double>(), 255);
  EXPECT_EQ(pp::jpeg_quality_table(pp::kLuminanceTable, 10)[0][0].item<double>(), 80);
}

TEST(PreprocessorJpeg, MatchesLibjpegTurboAtEveryQualityAndSubsampling) {
  const torch::Tensor colour = preproc_test_images(61, 53);  // neither a multiple of 8 nor of 16
  const torch::Tensor gray = colour.slice(1, 1, 2).contiguous();
  medadv::testing::TestContext ctx;
  for (const int quality : {50, 70, 80, 90}) {
    for (const std::string subsampling : {"4:4:4", "4:2:0"}) {
      pp::Jpeg jpeg(preproc_params<pp::Jpeg>("jpeg", {{"quality", quality}, {"subsampling", subsampling}}), ctx);
      const bool s420 = subsampling == "4:2:0";
      for (const torch::Tensor& x : {colour, gray}) {
        const std::string what = "quality " + std::to_string(quality) + " " + subsampling + " " +
                                 (x.size(1) == 3 ? "colour" : "gray");
        const torch::Tensor ours = jpeg.transform(x);
        ASSERT_EQ(ours.sizes(), x.sizes()) << what;
        // 8-bit output.
        EXPECT_TRUE(torch::equal(torch::round(ours * 255.0) / 255.0, ours)) << what;
        const torch::Tensor theirs = preproc_libjpeg(x, quality, s420);
        const std::vector<double> agreement = preproc_psnr(ours, theirs);
        // In single precision (as runs use it) it agrees as well.
        const std::vector<double> single = preproc_psnr(jpeg.transform(x.to(torch::kFloat)).to(torch::kDouble), theirs);
        const std::vector<double> untouched = preproc_psnr(x, theirs);
        for (std::size_t i = 0; i < agreement.size(); ++i) {
          EXPECT_GE(agreement[i], 40.0) << what << ", image " << i;
          EXPECT_GE(single[i], 40.0) << what << ", image " << i << " (float)";
          // Not trivially close: we reproduce the codec's loss, which is far larger than our
          // disagreement (measured: 44-55 dB against libjpeg-turbo, 29-49 dB for the input).
          EXPECT_GT(agreement[i], untouched[i] + 4.0) << what << ", image " << i;
        }
      }
    }
  }
}

TEST(PreprocessorJpeg, BpdaIsTheIdentityByDefaultAndShinSongWhenDifferentiable) {
  medadv::testing::TestContext ctx;
  const torch::Tensor x0 = preproc_test_images(24, 24);
  const torch::Tensor w = preproc_random({2, 3, 24, 24}, 3);
  pp::Jpeg identity(preproc_params<pp::Jpeg>("jpeg"), ctx);
  const torch::Tensor x = x0.clone().requires_grad_(true);
  const torch::Tensor y = medadv::bpda(identity, x);
  EXPECT_TRUE(torch::allclose(y.detach(), identity.transform(x0), 0, 1e-12));
  const torch::Tensor g = torch::autograd::grad({(w * y).sum()}, {x})[0];
  EXPECT_TRUE(torch::allclose(g, w, 0, 1e-12));

  pp::Jpeg smooth(preproc_params<pp::Jpeg>("jpeg", {{"differentiable", true}}), ctx);
  const torch::Tensor xs = x0.clone().requires_grad_(true);
  const torch::Tensor ys = medadv::bpda(smooth, xs);
  // The forward pass is the real transform.
  EXPECT_TRUE(torch::allclose(ys.detach(), smooth.transform(x0), 0, 1e-12));
  const torch::Tensor gs = torch::autograd::grad({(w * ys).sum()}, {xs})[0];
  EXPECT_TRUE(torch::isfinite(gs).all().item<bool>());
  EXPECT_GT(gs.abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(torch::allclose(gs, w, 1e-3, 1e-3));
  // The approximation is the pipeline itself: its forward value is close to the real one.
  EXPECT_LT((smooth.backward_approximation(x0) - smooth.transform(x0)).abs().max().item<double>(), 0.1);
}

// ---- freq-jpeg ----------------------------------------------------------------------

TEST(PreprocessorFreqJpeg, MatchesPerBlockDctWithPaddingCroppedBack) {
  const auto p = preproc_params<pp::FreqJpeg>("freq-jpeg");
  EXPECT_EQ(p.get_float("gd"), 60.0);
  EXPECT_EQ(p.get_float("ac"), 5.0);
  EXPECT_EQ(p.get_float("pd"), 30.0);
  EXPECT_THROW(preproc_params<pp::FreqJpeg>("freq-jpeg", {{"gd", 0.0}}), medadv::ValidationError);
  medadv::testing::TestContext ctx;
  pp::FreqJpeg defense(p, ctx);

  const std::int64_t c = 3, h = 13, w = 19;  // padded to 16 x 24
  const torch::Tensor x = preproc_test_images(h, w)[0].unsqueeze(0) * 0.9 + 0.05 * preproc_random({1, c, h, w}, 5);
  const torch::Tensor ours = defense.transform(x);
  ASSERT_EQ(ours.sizes(), x.sizes());

  const double pi = std::acos(-1.0);
  const auto alpha = [](int u) { return u == 0 ? std::sqrt(1.0 / 8) : std::sqrt(2.0 / 8); };
  const auto step = [](int u, int v) { return u < 2 && v < 2 ? 30.0 : (u < 4 && v < 4 ? 5.0 : 60.0); };
  auto xa = x.accessor<double, 4>();
  torch::Tensor expected = torch::empty_like(x);
  auto ea = expected.accessor<double, 4>();
  const std::int64_t hp = 16, wp = 24;
  for (std::int64_t ch = 0; ch < c; ++ch) {
    std::vector<double> padded(hp * wp), out(hp * wp);
    for (std::int64_t i = 0; i < hp; ++i)
      for (std::int64_t j = 0; j < wp; ++j) padded[i * wp + j] = 255.0 * xa[0][ch][std::min(i, h - 1)][std::min(j, w - 1)];
    for (std::int64_t bi = 0; bi < hp; bi += 8)
      for (std::int64_t bj = 0; bj < wp; bj += 8) {
        double q[8][8];
        for (int u = 0; u < 8; ++u)
          for (int v = 0; v < 8; ++v) {
            double sum = 0;
            for (int m = 0; m < 8; ++m)
              for (int n = 0; n < 8; ++n)
                sum += alpha(u) * alpha(v) * std::cos((2 * m + 1) * u * pi / 16) * std::cos((2 * n + 1) * v * pi / 16) *
                       padded[(bi + m) * wp + bj + n];
            q[u][v] = std::nearbyint(sum / step(u, v)) * step(u, v);  // half to even
          }
        for (int m = 0; m < 8; ++m)
          for (int n = 0; n < 8; ++n) {
            double sum = 0;
            for (int u = 0; u < 8; ++u)
              for (int v = 0; v < 8; ++v)
                sum += alpha(u) * alpha(v) * std::cos((2 * m + 1) * u * pi / 16) * std::cos((2 * n + 1) * v * pi / 16) * q[u][v];
            out[(bi + m) * wp + bj + n] = sum;
          }
      }
    for (std::int64_t i = 0; i < h; ++i)
      for (std::int64_t j = 0; j < w; ++j) ea[0][ch][i][j] = std::clamp(out[i * wp + j] / 255.0, 0.0, 1.0);
  }
  EXPECT_TRUE(torch::allclose(ours, expected, 0, 1e-9)) << (ours - expected).abs().max();
  EXPECT_GT((ours - x).abs().max().item<double>(), 1e-3);  // it does change the image
  // Float input runs on float.
  EXPECT_TRUE(torch::allclose(defense.transform(x.to(torch::kFloat)).to(torch::kDouble), expected, 0, 1e-4));
}

// ---- bit-depth, median, gaussian ------------------------------------------------------

TEST(PreprocessorBitDepth, MatchesDirectRoundingAndBpdaIsIdentity) {
  const torch::Tensor x = preproc_random({2, 3, 5, 7}, 11);
  medadv::testing::TestContext ctx;
  EXPECT_EQ(preproc_params<pp::BitDepth>("bit-depth").get_int("bits"), 4);
  EXPECT_THROW(preproc_params<pp::BitDepth>("bit-depth", {{"bits", 9}}), medadv::ValidationError);
  for (const int bits : {1, 3, 4, 8}) {
    pp::BitDepth defense(preproc_params<pp::BitDepth>("bit-depth", {{"bits", bits}}), ctx);
    const torch::Tensor ours = defense.transform(x);
    const double levels = std::pow(2.0, bits) - 1;
    torch::Tensor expected = x.clone();
    double* e = expected.data_ptr<double>();
    for (std::int64_t i = 0; i < expected.numel(); ++i) e[i] = std::nearbyint(e[i] * levels) / levels;
    EXPECT_TRUE(torch::allclose(ours, expected, 0, 1e-15)) << bits << " bits";
  }
  pp::BitDepth defense(preproc_params<pp::BitDepth>("bit-depth"), ctx);
  const torch::Tensor xg = x.clone().requires_grad_(true);
  const torch::Tensor w = preproc_random({2, 3, 5, 7}, 12);
  const torch::Tensor y = medadv::bpda(defense, xg);
  EXPECT_TRUE(torch::allclose(y.detach(), defense.transform(x), 0, 1e-12));
  const torch::Tensor g = torch::autograd::grad({(w * y).sum()}, {xg})[0];
  EXPECT_TRUE(torch::allclose(g, w, 0, 1e-15));  // non-zero, as the identity's
  // Without BPDA rounding has no gradient at all: what BPDA is for.
  const torch::Tensor xr = x.clone().requires_grad_(true);
  EXPECT_EQ(torch::autograd::grad({(w * defense.transform(xr)).sum()}, {xr})[0].abs().sum().item<double>(), 0.0);
}

TEST(PreprocessorMedian, MatchesDirectWindowsWithScipyReflect) {
  const torch::Tensor x = preproc_random({2, 3, 7, 6}, 21);
  medadv::testing::TestContext ctx;
  EXPECT_EQ(preproc_params<pp::Median>("median").get_int("size"), 3);
  EXPECT_THROW(preproc_params<pp::Median>("median", {{"size", 1}}), medadv::ValidationError);
  auto xa = x.accessor<double, 4>();
  for (const std::int64_t size : {2, 3, 5}) {
    pp::Median defense(preproc_params<pp::Median>("median", {{"size", size}}), ctx);
    const torch::Tensor ours = defense.transform(x);
    torch::Tensor expected = torch::empty_like(x);
    auto ea = expected.accessor<double, 4>();
    for (std::int64_t b = 0; b < 2; ++b)
      for (std::int64_t c = 0; c < 3; ++c)
        for (std::int64_t i = 0; i < 7; ++i)
          for (std::int64_t j = 0; j < 6; ++j) {
            std::vector<double> window;
            for (std::int64_t di = -size / 2; di < size - size / 2; ++di)
              for (std::int64_t dj = -size / 2; dj < size - size / 2; ++dj)
                window.push_back(xa[b][c][preproc_reflect(i + di, 7)][preproc_reflect(j + dj, 6)]);
            std::sort(window.begin(), window.end());
            ea[b][c][i][j] = window[window.size() / 2];
          }
    EXPECT_TRUE(torch::equal(ours, expected)) << "size " << size;
  }
}

TEST(PreprocessorGaussian, MatchesDirectConvolutionWithScipyReflect) {
  const torch::Tensor x = preproc_random({2, 3, 6, 9}, 31);
  medadv::testing::TestContext ctx;
  const auto defaults = preproc_params<pp::Gaussian>("gaussian");
  EXPECT_EQ(defaults.get_int("size"), 3);
  EXPECT_EQ(defaults.get_float("sigma"), 1.0);
  EXPECT_THROW(preproc_params<pp::Gaussian>("gaussian", {{"size", 4}}), medadv::ValidationError);
  EXPECT_THROW(preproc_params<pp::Gaussian>("gaussian", {{"sigma", 0.0}}), medadv::ValidationError);
  auto xa = x.accessor<double, 4>();
  for (const auto& [size, sigma] : std::vector<std::pair<std::int64_t, double>>{{3, 1.0}, {5, 0.7}, {7, 2.5}}) {
    pp::Gaussian defense(preproc_params<pp::Gaussian>("gaussian", {{"size", size}, {"sigma", sigma}}), ctx);
    const torch::Tensor ours = defense.transform(x);
    const std::int64_t r = size / 2;
    std::vector<double> k;
    double total = 0;
    for (std::int64_t d = -r; d <= r; ++d) total += k.emplace_back(std::exp(-double(d * d) / (2 * sigma * sigma)));
    for (double& v : k) v /= total;
    torch::Tensor expected = torch::zeros_like(x);
    auto ea = expected.accessor<double, 4>();
    for (std::int64_t b = 0; b < 2; ++b)
      for (std::int64_t c = 0; c < 3; ++c)
        for (std::int64_t i = 0; i < 6; ++i)
          for (std::int64_t j = 0; j < 9; ++j)
            for (std::int64_t di = -r; di <= r; ++di)
              for (std::int64_t dj = -r; dj <= r; ++dj)
                ea[b][c][i][j] += k[di + r] * k[dj + r] * xa[b][c][preproc_reflect(i + di, 6)][preproc_reflect(j + dj, 9)];
    EXPECT_TRUE(torch::allclose(ours, expected, 0, 1e-12)) << "size " << size << " sigma " << sigma;
  }
  // Backward: the blur's own gradient (its transpose), which keeps the total: the weights of
  // every output sum to 1, and reflection moves weight without losing any.
  pp::Gaussian defense(defaults, ctx);
  const torch::Tensor xg = x.clone().requires_grad_(true);
  const torch::Tensor w = preproc_random({2, 3, 6, 9}, 32);
  const torch::Tensor g = torch::autograd::grad({(w * medadv::bpda(defense, xg)).sum()}, {xg})[0];
  EXPECT_NEAR(g.sum().item<double>(), w.sum().item<double>(), 1e-9);
  EXPECT_FALSE(torch::allclose(g, w, 1e-3, 1e-3));
}

// ---- tvm ----------------------------------------------------------------------------

TEST(PreprocessorTvm, ReconstructionLowersTheObjectiveAndKeepsKeptPixels) {
  const auto p = preproc_params<pp::Tvm>("tvm");
  EXPECT_EQ(p.get_float("keep"), 0.5);
  EXPECT_EQ(p.get_float("weight"), 0.03);
  EXPECT_EQ(p.get_int("iterations"), 200);
  EXPECT_THROW(preproc_params<pp::Tvm>("tvm", {{"keep", 0.0}}), medadv::ValidationError);

  // A constant image is rebuilt exactly from any half of its values (TV 0, no misfit).
  const torch::Tensor flat = torch::full({1, 1, 16, 16}, 0.4, torch::kDouble);
  const torch::Tensor flat_mask = (preproc_random({1, 1, 16, 16}, 41) < 0.5).to(torch::kDouble);
  EXPECT_LT((pp::tv::reconstruct(flat, flat_mask, 0.03, 200) - flat).abs().max().item<double>(), 1e-2);

  const torch::Tensor x = preproc_test_images(32, 32).slice(0, 0, 1);
  const torch::Tensor mask = (preproc_random({1, 3, 32, 32}, 42) < 0.5).to(torch::kDouble);
  const torch::Tensor dropped = mask * x;
  const torch::Tensor z = pp::tv::reconstruct(x, mask, 0.03, 200);
  const double e_dropped = pp::tv::energy(dropped, x, mask, 0.03).item<double>();
  const double e_z = pp::tv::energy(z, x, mask, 0.03).item<double>();
  EXPECT_LT(e_z, 0.5 * e_dropped);
  // Near the optimum: a ten times longer run gains little.
  const double e_long = pp::tv::energy(pp::tv::reconstruct(x, mask, 0.03, 2000), x, mask, 0.03).item<double>();
  EXPECT_LE(e_long, e_z + 1e-9);
  EXPECT_LT(e_z - e_long, 0.02 * e_long);
  // Kept values stay close; dropped ones come back far closer than the dropped image's zeros.
  const double kept_error = ((z - x).abs() * mask).sum().item<double>() / mask.sum().item<double>();
  const double hole_error = ((z - x).abs() * (1 - mask)).sum().item<double>() / (1 - mask).sum().item<double>();
  const double hole_before = ((dropped - x).abs() * (1 - mask)).sum().item<double>() / (1 - mask).sum().item<double>();
  EXPECT_LT(kept_error, 0.03);
  EXPECT_LT(hole_error, 0.3 * hole_before);
}

TEST(PreprocessorTvm, SeedRepeatsTheMasksAndOtherSeedsDiffer) {
  const auto p = preproc_params<pp::Tvm>("tvm", {{"iterations", 20}});
  const torch::Tensor x = preproc_test_images(32, 32);
  medadv::testing::TestContext ctx_a(5), ctx_b(5), ctx_c(6);
  pp::Tvm a(p, ctx_a), b(p, ctx_b), c(p, ctx_c);
  const torch::Tensor mask_a = a.draw_mask(x), mask_b = b.draw_mask(x), mask_c = c.draw_mask(x);
  EXPECT_TRUE(torch::equal(mask_a, mask_b));
  EXPECT_FALSE(torch::equal(mask_a, mask_c));
  EXPECT_NEAR(mask_a.mean().item<double>(), 0.5, 0.05);
  EXPECT_EQ(mask_a.scalar_type(), x.scalar_type());
  // One draw per call, the same sequence for the same seed.
  const torch::Tensor ya = a.transform(x), yb = b.transform(x);
  EXPECT_TRUE(torch::equal(ya, yb));
  EXPECT_FALSE(torch::equal(a.transform(x), ya));
  EXPECT_FALSE(torch::equal(c.transform(x), ya));
  EXPECT_GE(ya.min().item<double>(), 0.0);
  EXPECT_LE(ya.max().item<double>(), 1.0);
  // BPDA: the identity.
  const torch::Tensor xg = x.clone().requires_grad_(true);
  const torch::Tensor w = preproc_random({2, 3, 32, 32}, 51);
  EXPECT_TRUE(torch::allclose(torch::autograd::grad({(w * medadv::bpda(a, xg)).sum()}, {xg})[0], w, 0, 1e-15));
}
