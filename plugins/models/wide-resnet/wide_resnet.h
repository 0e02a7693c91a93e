#pragma once
// wide-resnet-28-10: WRN-depth-k (Zagoruyko & Komodakis 2016) as used by the
// adversarial-training literature (TRADES, MART: the xternalz/WideResNet-pytorch
// layout), for any channel count, class count and image size >= 16.
//
//   (x - mean) / std
//   conv3x3(C -> 16)
//   stage1: n pre-activation blocks, 16k channels, stride 1
//   stage2: n blocks, 32k channels, the first with stride 2
//   stage3: n blocks, 64k channels, the first with stride 2
//   BN ReLU, penultimate: global average pool [B, 64k]
//   logits: linear [B, K]
// with n = (depth - 4) / 6 and k = widen_factor. A block is
//   BN ReLU conv3x3(stride) BN ReLU (dropout) conv3x3, plus the identity, or a 1x1
//   projection of the activated input where the channel count changes.
//
// Taps, in forward order: block1..block<3n> (each block's output), penultimate, logits.
//
// Initialisation as the reference code: Kaiming-normal (fan_out) convolutions, BN 1/0,
// PyTorch's default linear weight with zero bias; drawn from the build's seed alone.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/error.h>
#include <medadv/model.h>
#include <medadv/model_parts.h>
#include <medadv/params.h>

namespace medadv::plugins::wide_resnet {

inline constexpr const char* kName = "wide-resnet-28-10";
inline constexpr std::int64_t kMinImageSize = 16;

struct WideResNetOptions {
  std::int64_t depth = 28;
  std::int64_t widen_factor = 10;
  double dropout = 0.0;
  std::uint64_t init_seed = 0;
};

// Why `depth` cannot be a wide ResNet's (6n + 4, n >= 1), or nothing when it can.
inline std::optional<std::string> depth_problem(std::int64_t depth) {
  if (depth >= 10 && (depth - 4) % 6 == 0) return std::nullopt;
  return "depth must be 6n + 4 with n >= 1 (10, 16, 22, 28, 34, 40, ...), got " + std::to_string(depth);
}

// Blocks per stage for a depth; throws InvalidInput unless depth = 6n + 4, n >= 1.
inline std::int64_t blocks_per_stage(std::int64_t depth) {
  if (const auto problem = depth_problem(depth)) throw InvalidInput(std::string(kName) + ": " + *problem);
  return (depth - 4) / 6;
}

namespace detail {

inline torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding((kernel - 1) / 2).bias(false));
}

class WideBlock : public torch::nn::Module {
 public:
  WideBlock(std::int64_t in, std::int64_t out, std::int64_t stride, double dropout)
      : equal_in_out_(in == out), dropout_(dropout) {
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(in));
    conv1_ = register_module("conv1", conv(in, out, 3, stride));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(out));
    conv2_ = register_module("conv2", conv(out, out, 3, 1));
    if (!equal_in_out_) shortcut_ = register_module("shortcut", conv(in, out, 1, stride));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const auto activated = torch::relu(bn1_->forward(x));
    auto h = torch::relu(bn2_->forward(conv1_->forward(activated)));
    if (dropout_ > 0.0) h = torch::dropout(h, dropout_, is_training());
    h = conv2_->forward(h);
    // The projection sees the activated input, the identity the raw one (reference code).
    return (equal_in_out_ ? x : shortcut_->forward(activated)) + h;
  }

 private:
  bool equal_in_out_;
  double dropout_;
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, shortcut_{nullptr};
};

}  // namespace detail

class WideResNet : public TappedModule {
 public:
  WideResNet(const ModelSpec& spec, const WideResNetOptions& o) {
    check_model_spec(kName, spec, Task::Classification, kMinImageSize, "two 2x downsamplings");
    const std::int64_t n = blocks_per_stage(o.depth);
    if (o.widen_factor < 1)
      throw InvalidInput(std::string(kName) + ": widen_factor must be >= 1, got " + std::to_string(o.widen_factor));
    if (!(o.dropout >= 0.0 && o.dropout < 1.0)) throw InvalidInput(std::string(kName) + ": dropout must be in [0, 1)");
    normalize_ = InputNormalization(*this, kName, spec);

    const std::int64_t k = o.widen_factor;
    const std::int64_t widths[] = {16 * k, 32 * k, 64 * k};
    conv1_ = register_module("conv1", detail::conv(spec.channels, 16, 3, 1));
    std::int64_t in = 16;
    for (std::size_t stage = 0; stage < 3; ++stage) {
      auto list = register_module("stage" + std::to_string(stage + 1), torch::nn::ModuleList());
      for (std::int64_t b = 0; b < n; ++b) {
        const std::int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
        auto block = std::make_shared<detail::WideBlock>(in, widths[stage], stride, o.dropout);
        list->push_back(block);
        blocks_.push_back(block);
        tap_names_.push_back("block" + std::to_string(blocks_.size()));
        in = widths[stage];
      }
    }
    bn_ = register_module("bn", torch::nn::BatchNorm2d(in));
    fc_ = register_module("fc", torch::nn::Linear(in, spec.num_classes));
    tap_names_.push_back("penultimate");
    tap_names_.push_back("logits");
    SeededInit(o.init_seed).torchvision_style(*this, SeededInit::Linear::TorchDefault);
    torch::NoGradGuard no_grad;
    fc_->bias.zero_();
  }

  std::vector<std::string> tap_names() const override { return tap_names_; }

  ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    TapCollector out(kName, taps, tap_names_);
    auto h = conv1_->forward(normalize_(x));
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      h = blocks_[i]->forward(h);
      out.offer("block" + std::to_string(i + 1), h);
    }
    const auto pooled = torch::relu(bn_->forward(h)).mean({2, 3});
    out.offer("penultimate", pooled);
    return out.finish(fc_->forward(pooled));
  }

 private:
  InputNormalization normalize_;
  torch::nn::Conv2d conv1_{nullptr};
  std::vector<std::shared_ptr<detail::WideBlock>> blocks_;
  torch::nn::BatchNorm2d bn_{nullptr};
  torch::nn::Linear fc_{nullptr};
  std::vector<std::string> tap_names_;
};

class WideResNetPlugin : public ModelPlugin {
 public:
  static void schema(ParamSchema& s) {
    s.add_int("depth", 28, "Depth 6n + 4 (n blocks per stage): 10, 16, 22, 28, 34, 40, ...").min(10).max(1000);
    s.add_check("depth = 6n + 4", {"depth"}, [](const Params& p) { return depth_problem(p.get_int("depth")); });
    s.add_int("widen_factor", 10, "k: the three stages have 16k, 32k and 64k channels").min(1).max(64);
    s.add_float("dropout", 0.0, "Dropout probability between a block's two convolutions, in training only")
        .min(0.0)
        .max_exclusive(1.0);
  }

  WideResNetPlugin(const Params& p, RunContext& ctx)
      : depth_(p.get_int("depth")),
        widen_factor_(p.get_int("widen_factor")),
        dropout_(p.get_float("dropout")),
        seeds_(ctx, kName) {}

  std::shared_ptr<TappedModule> build(const ModelSpec& spec) override {
    WideResNetOptions o;
    o.depth = depth_;
    o.widen_factor = widen_factor_;
    o.dropout = dropout_;
    o.init_seed = seeds_.next();
    return std::make_shared<WideResNet>(spec, o);
  }

 private:
  std::int64_t depth_, widen_factor_;
  double dropout_;
  BuildSeeds seeds_;
};

}  // namespace medadv::plugins::wide_resnet
