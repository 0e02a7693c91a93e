#pragma once
// The detector network of Metzen et al. (2017) for one tap, as specs/DETECTORS.md states
// it, with ReLUs between the convolutions (Metzen's; the HFC code had none):
//
//   standardise per channel (mean / std of the fit features, fixed buffers)
//   Conv(C, 96, 3) ReLU  MaxPool(3, 2)
//   Conv(96, 192, 3) ReLU  MaxPool(3, 2)
//   Conv(192, 192, 3) ReLU
//   Conv(192, 1, 3)  global average pool  -> one logit per image
//
// Adapted to the small maps of medical-image models (a 32 px small-cnn's deepest map is
// 4 x 4, resnet18's 4 x 4, a penultimate vector is 1 x 1): every convolution is padded by
// 1, so it keeps the map's size, and every pool is padded by 1, so a map of side s
// becomes ceil(s / 2) and never shrinks below 1; a pool whose input is already 1 x 1
// (where it would be the identity) is left out. Which pools run is fixed when the net
// is built, from the tap's spatial size.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include <medadv/error.h>
#include <medadv/model_parts.h>

namespace medadv::plugins::dnn {

// A tap output as a feature map [B, C, H, W]: [B, D] vectors become [B, D, 1, 1] and
// [B, C, L] sequences [B, C, L, 1].
inline torch::Tensor as_feature_map(const torch::Tensor& tap) {
  switch (tap.dim()) {
    case 2: return tap.unsqueeze(2).unsqueeze(3);
    case 3: return tap.unsqueeze(3);
    case 4: return tap;
    default:
      throw InvalidInput("dnn: a tap must be [B, D], [B, C, L] or [B, C, H, W], got " + c10::str(tap.sizes()));
  }
}

class DetectorNet : public torch::nn::Module {
 public:
  static constexpr std::int64_t kWidth1 = 96, kWidth2 = 192;

  // For maps [*, channels, height, width]; weights drawn from `seed` alone (PyTorch's
  // default conv initialisation); standardisation starts as the identity.
  DetectorNet(std::int64_t channels, std::int64_t height, std::int64_t width, std::uint64_t seed)
      : channels_(channels) {
    if (channels < 1 || height < 1 || width < 1)
      throw InvalidInput("dnn: a detector net needs maps of at least 1 channel and 1 x 1, got " +
                         std::to_string(channels) + " x " + std::to_string(height) + " x " + std::to_string(width));
    auto conv = [](std::int64_t in, std::int64_t out) {
      return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
    };
    conv1_ = register_module("conv1", conv(channels, kWidth1));
    conv2_ = register_module("conv2", conv(kWidth1, kWidth2));
    conv3_ = register_module("conv3", conv(kWidth2, kWidth2));
    conv4_ = register_module("conv4", conv(kWidth2, 1));
    for (int pool = 0; pool < 2; ++pool) {
      const bool runs = height > 1 || width > 1;
      pools_.push_back(runs);
      if (runs) {
        height = (height + 1) / 2;
        width = (width + 1) / 2;
      }
    }
    mean_ = register_buffer("feature_mean", torch::zeros({1, channels, 1, 1}));
    std_ = register_buffer("feature_std", torch::ones({1, channels, 1, 1}));
    SeededInit init(seed);
    for (auto* c : {&conv1_, &conv2_, &conv3_, &conv4_}) init.torch_default((*c)->weight, &(*c)->bias);
  }

  // Sets the per-channel standardisation from fit maps [N, C, H, W]: the detector's
  // input scale then does not depend on the tap's (which varies by orders of magnitude
  // between layers and models), and Adam's step size means the same for every tap. A
  // constant channel keeps std 1.
  void set_standardisation(const torch::Tensor& maps) {
    torch::NoGradGuard no_grad;
    const torch::Tensor mean = maps.mean({0, 2, 3}, /*keepdim=*/true);
    const torch::Tensor std = maps.std({0, 2, 3}, /*unbiased=*/false, /*keepdim=*/true);
    mean_.copy_(mean);
    std_.copy_(torch::where(std > 1e-12, std, torch::ones_like(std)));
  }

  // One logit per map [B].
  torch::Tensor forward(const torch::Tensor& maps) {
    auto pool = [](const torch::Tensor& h) { return torch::max_pool2d(h, {3, 3}, {2, 2}, {1, 1}); };
    torch::Tensor h = (maps - mean_) / std_;
    h = torch::relu(conv1_->forward(h));
    if (pools_[0]) h = pool(h);
    h = torch::relu(conv2_->forward(h));
    if (pools_[1]) h = pool(h);
    h = torch::relu(conv3_->forward(h));
    return conv4_->forward(h).mean({1, 2, 3});
  }

  // Whether each of the two pools runs.
  const std::vector<bool>& pools() const { return pools_; }
  std::int64_t channels() const { return channels_; }

 private:
  std::int64_t channels_;
  std::vector<bool> pools_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr}, conv4_{nullptr};
  torch::Tensor mean_, std_;  // buffers [1, C, 1, 1]
};

}  // namespace medadv::plugins::dnn
