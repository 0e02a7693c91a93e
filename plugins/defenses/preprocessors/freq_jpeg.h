#pragma once
// freq-jpeg: the frequency-refined JPEG of Liu et al. (MICCAI 2020; code
// qiliu08/frequency-refinement-defense), a defense for segmentation. specs/DEFENSES.md:
// per channel on 0..255 values (x * 255, no colour transform, no level shift, no 8-bit
// rounding), an orthonormal 8 x 8 DCT, quantisation with the table GD everywhere, the
// top-left 4 x 4 set to AC and the top-left 2 x 2 to PD, rounding half to even (numpy's
// round), dequantisation, the inverse DCT, / 255, clip to [0, 1]. Images whose sides are not
// multiples of 8 are padded at the bottom and right by edge replication and cropped back
// (the reference code pads with zeros and forgets to crop). Backward: the identity (BPDA).
#include <cstdint>

#include <torch/torch.h>

#include <medadv/context.h>
#include <medadv/defense.h>
#include <medadv/error.h>
#include <medadv/params.h>

#include "blocks.h"

namespace medadv::plugins::preprocessors {

// The quantisation table [8, 8] (double, CPU).
inline torch::Tensor frequency_refinement_table(double gd, double ac, double pd) {
  torch::Tensor t = torch::full({kBlock, kBlock}, gd, torch::kDouble);
  t.slice(0, 0, 4).slice(1, 0, 4).fill_(ac);
  t.slice(0, 0, 2).slice(1, 0, 2).fill_(pd);
  return t;
}

class FreqJpeg : public Preprocessor {
 public:
  static void schema(ParamSchema& s) {
    s.add_float("gd", 60.0, "quantisation step of the general (high-frequency) band: every coefficient outside the "
                            "top-left 4 x 4")
        .min_exclusive(0)
        .max(10000);
    s.add_float("ac", 5.0, "quantisation step of the top-left 4 x 4 (the low frequencies kept finely)")
        .min_exclusive(0)
        .max(10000);
    s.add_float("pd", 30.0, "quantisation step of the top-left 2 x 2 (DC and the lowest AC)").min_exclusive(0).max(10000);
  }

  FreqJpeg(const Params& p, RunContext& /*ctx*/)
      : table_(frequency_refinement_table(p.get_float("gd"), p.get_float("ac"), p.get_float("pd"))), dct_(dct_matrix()) {}

  torch::Tensor transform(const torch::Tensor& x) override {
    if (x.dim() != 4) throw InvalidInput("freq-jpeg: expected images [B, C, H, W], got " + c10::str(x.sizes()));
    if (!x.is_floating_point()) throw InvalidInput("freq-jpeg: expected floating-point images in [0, 1]");
    const std::int64_t h = x.size(2), w = x.size(3);
    const torch::Tensor table = table_.to(x.options());
    const torch::Tensor restored = through_block_dct(pad_edges_to_multiple(x * 255.0, kBlock), dct_.to(x.options()),
                                                     [&](const torch::Tensor& c) { return torch::round(c / table) * table; });
    return (restored.slice(2, 0, h).slice(3, 0, w) / 255.0).clamp(0.0, 1.0);
  }

  const torch::Tensor& table() const { return table_; }

 private:
  torch::Tensor table_, dct_;  // CPU double
};

}  // namespace medadv::plugins::preprocessors
