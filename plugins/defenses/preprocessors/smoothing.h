#pragma once
// bit-depth, median and gaussian: the squeezing and smoothing preprocessors, on the filters
// of medadv/image_filters.h (the feature-squeezing detector's, so that both share one
// definition of each filter).
//   bit-depth: round(x * (2^bits - 1)) / (2^bits - 1) (feature squeezing; "Bit-3", "Bit-4"
//     in Medical Aegis). Backward: the identity (BPDA): rounding's derivative is 0.
//   median: median over a size x size window per channel, scipy.ndimage.median_filter's
//     window and "reflect" extension. Backward: the filter's own gradient (it passes each
//     output's gradient to the pixel it selects), exact where the median is unique.
//   gaussian: separable Gaussian blur, sampled normalised kernel of odd `size` and `sigma`,
//     the same "reflect" extension. Backward: the blur itself (linear: the exact gradient).
#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

#include <medadv/context.h>
#include <medadv/defense.h>
#include <medadv/error.h>
#include <medadv/image_filters.h>
#include <medadv/params.h>

namespace medadv::plugins::preprocessors {

inline void require_images(const char* who, const torch::Tensor& x) {
  if (x.dim() != 4) throw InvalidInput(std::string(who) + ": expected images [B, C, H, W], got " + c10::str(x.sizes()));
  if (!x.is_floating_point()) throw InvalidInput(std::string(who) + ": expected floating-point images in [0, 1]");
}

class BitDepth : public Preprocessor {
 public:
  static void schema(ParamSchema& s) {
    s.add_int("bits", 4, "bits kept per value: round(x * (2^bits - 1)) / (2^bits - 1)").min(1).max(8);
  }
  BitDepth(const Params& p, RunContext& /*ctx*/) : bits_(p.get_int("bits")) {}

  torch::Tensor transform(const torch::Tensor& x) override {
    require_images("bit-depth", x);
    return reduce_bit_depth(x, bits_);
  }
  // backward_approximation(): the SDK's identity.

 private:
  std::int64_t bits_;
};

class Median : public Preprocessor {
 public:
  static void schema(ParamSchema& s) {
    s.add_int("size", 3, "side of the square window (scipy.ndimage.median_filter conventions; an even side reaches "
                         "up and left)")
        .min(2)
        .max(15);
  }
  Median(const Params& p, RunContext& /*ctx*/) : size_(p.get_int("size")) {}

  torch::Tensor transform(const torch::Tensor& x) override {
    require_images("median", x);
    return median_smooth(x, size_);
  }
  torch::Tensor backward_approximation(const torch::Tensor& x) override { return transform(x); }

 private:
  std::int64_t size_;
};

class Gaussian : public Preprocessor {
 public:
  static void schema(ParamSchema& s) {
    s.add_int("size", 3, "side of the square kernel (odd)").min(3).max(31);
    s.add_float("sigma", 1.0, "standard deviation of the kernel, in pixels").min_exclusive(0).max(100);
    s.add_check("size is odd", {"size"}, [](const Params& p) -> std::optional<std::string> {
      if (p.get_int("size") % 2 == 1) return std::nullopt;
      return "the kernel size must be odd (a centred kernel), got " + std::to_string(p.get_int("size"));
    });
  }
  Gaussian(const Params& p, RunContext& /*ctx*/) : size_(p.get_int("size")), sigma_(p.get_float("sigma")) {}

  torch::Tensor transform(const torch::Tensor& x) override {
    require_images("gaussian", x);
    return gaussian_blur(x, size_, sigma_);
  }
  torch::Tensor backward_approximation(const torch::Tensor& x) override { return transform(x); }

 private:
  std::int64_t size_;
  double sigma_;
};

}  // namespace medadv::plugins::preprocessors
