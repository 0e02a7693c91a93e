#pragma once
// feature-squeezing: the detector of Xu, Evans and Qi (NDSS 2018). Squeezers: bit-depth
// reduction to `bits` bits (0 = by the input's channels: 4 for grayscale, 5 for colour,
// specs/DETECTORS.md) and median smoothing with each window of `median_sizes` (2 x 2 and
// 3 x 3), with the conventions of medadv/image_filters.h (numpy / scipy, as the authors'
// code). Score = the largest, over squeezers, L1 distance
// between the model's softmax on the input and on its squeezed version (in [0, 2]).
// Unsupervised: nothing is fitted (Xu et al.'s threshold at a false-positive rate is the
// ROC's job here). All squeezed versions go through the model in one forward pass.
// Differentiable as it stands (bit-depth reduction contributes a zero derivative; an
// adaptive attack wanting more would approximate it, e.g. by BPDA, itself).
#include <cstdint>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/detector.h>
#include <medadv/error.h>
#include <medadv/image_filters.h>
#include <medadv/params.h>

namespace medadv::plugins::squeeze {

class FeatureSqueezing : public Detector {
 public:
  static constexpr std::int64_t kGrayBits = 4, kColourBits = 5;

  static void schema(ParamSchema& s) {
    s.add_bool("bit_depth", true, "use the bit-depth reduction squeezer");
    s.add_int("bits", 0, "bit depth of that squeezer; 0 = by the input's channels: 4 for 1 channel, 5 otherwise")
        .min(0)
        .max(16);
    s.add_list("median_sizes", ParamSpec("", ParamType::Int, "").min(2).max(11), {Value(std::int64_t{2}), Value(std::int64_t{3})},
               "median smoothing squeezers: one per window side (scipy.ndimage.median_filter conventions); [] = none");
    s.add_check("at least one squeezer", {"bit_depth", "median_sizes"}, [](const Params& p) -> std::optional<std::string> {
      if (p.get_bool("bit_depth") || !p.get_list("median_sizes").empty()) return std::nullopt;
      return "no squeezer left (bit_depth = false and median_sizes = [])";
    });
  }

  FeatureSqueezing(const Params& p, RunContext& /*ctx*/)
      : bit_depth_(p.get_bool("bit_depth")), bits_(p.get_int("bits")), median_sizes_(p.get_int_list("median_sizes")) {}

  std::vector<std::string> taps(const std::vector<std::string>& /*available*/) const override { return {}; }
  bool supervised() const override { return false; }
  bool differentiable() const override { return true; }

  void fit(DifferentiableModel& model, const DetectorFitData& /*data*/, RunContext& ctx,
           AttackFactory* /*attacks*/) override {
    if (model.task() != Task::Classification)
      throw InvalidInput("feature-squeezing compares class probabilities: it needs a classifier");
    ctx.log().debug("feature-squeezing: nothing to fit");
  }

  // The bit depth used for inputs with `channels` channels.
  std::int64_t bits_for(std::int64_t channels) const {
    if (bits_ > 0) return bits_;
    return channels == 1 ? kGrayBits : kColourBits;
  }

  // Every squeezed version of x, in the order bit depth, then the median sizes.
  std::vector<torch::Tensor> squeeze(const torch::Tensor& x) const {
    std::vector<torch::Tensor> out;
    if (bit_depth_) out.push_back(reduce_bit_depth(x, bits_for(x.size(1))));
    for (const std::int64_t size : median_sizes_) out.push_back(median_smooth(x, size));
    return out;
  }

  // Per-squeezer L1 distances [S, B].
  torch::Tensor distances(DifferentiableModel& model, const torch::Tensor& x) {
    if (x.dim() != 4) throw InvalidInput("feature-squeezing: expected images [B, C, H, W], got " + c10::str(x.sizes()));
    std::vector<torch::Tensor> inputs = squeeze(x);
    const std::int64_t squeezers = static_cast<std::int64_t>(inputs.size()), b = x.size(0);
    inputs.insert(inputs.begin(), x);
    const torch::Tensor logits = model.logits(torch::cat(inputs));
    if (logits.dim() != 2)
      throw InvalidInput("feature-squeezing needs classifier logits [B, K], got " + c10::str(logits.sizes()));
    const torch::Tensor probs = torch::softmax(logits, 1).view({squeezers + 1, b, logits.size(1)});
    return (probs.slice(0, 1) - probs[0].unsqueeze(0)).abs().sum(2);
  }

  torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) override {
    return std::get<0>(distances(model, x).max(0)).to(x.scalar_type());
  }

 private:
  bool bit_depth_;
  std::int64_t bits_;
  std::vector<std::int64_t> median_sizes_;
};

}  // namespace medadv::plugins::squeeze
