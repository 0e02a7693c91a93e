#pragma once
// Pooled per-tap features (specs/DETECTORS.md "Features"): every tap reduced to one
// vector per image, for detectors and attack terms that model feature distributions.
// Taps with spatial dimensions ([B, C, H, W], or any [B, C, ...]) are averaged over
// space, one value per channel; [B, D] taps stay as they are.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/capabilities.h"
#include "medadv/export.h"
#include "medadv/image_batches.h"

namespace medadv::features {

// A tap output -> [B, D] (see above); a [B] tap becomes [B, 1]. Differentiable.
MEDADV_API torch::Tensor pool(const torch::Tensor& tap);

// The logits and the pooled taps of a forward pass, taps in the order they were asked for.
struct MEDADV_API PooledOutput {
  torch::Tensor logits;                 // [B, K]
  std::vector<torch::Tensor> features;  // one [B, D_tap] per tap
};

// One batch, as differentiable in x as the model is: for scores that must be
// differentiable (adaptive attacks). x stays where it is.
MEDADV_API PooledOutput pooled_forward(DifferentiableModel& model, const torch::Tensor& x,
                                       const std::vector<std::string>& taps);

// A whole set without gradients: `images` [N, C, H, W] (CPU or device) go through the
// model in batches of `batch_size`, each moved to `device`; the results are concatenated
// on `device` (logits [N, K], one [N, D_tap] per tap). Throws InvalidInput for N = 0.
MEDADV_API PooledOutput pooled_features(DifferentiableModel& model, const torch::Tensor& images,
                                        const std::vector<std::string>& taps, std::int64_t batch_size,
                                        c10::Device device);
// The same over a split read a batch at a time (ImageBatches): only the pooled features
// are ever whole.
MEDADV_API PooledOutput pooled_features(DifferentiableModel& model, const ImageBatches& images,
                                        const std::vector<std::string>& taps, std::int64_t batch_size,
                                        c10::Device device);

// The taps a detector reads. `requested` names taps, or is {kAllTaps}: every tap in
// `available` except "logits", in the model's order. Throws InvalidInput naming `who`,
// the first requested tap the model does not offer (with a did-you-mean) and the taps it
// does offer; also when nothing is left to read.
inline constexpr const char* kAllTaps = "all";
MEDADV_API std::vector<std::string> select_taps(const std::string& who, const std::vector<std::string>& requested,
                                                const std::vector<std::string>& available);

}  // namespace medadv::features
