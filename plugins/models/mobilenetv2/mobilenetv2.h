#pragma once
// mobilenetv2: torchvision's MobileNetV2 (inverted residuals, ReLU6, width multiplier,
// channels rounded to multiples of 8) for any channel count, class count and image
// size >= 16.
//
//   (x - mean) / std
//   stem: conv3x3(C -> 32m) BN ReLU6, stride 2 (ImageNet) or 1 (CIFAR)
//   17 inverted residual blocks, (expansion t, channels c, repeats n, stride s):
//     (1,16,1,1) (6,24,2,2*) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1)
//     * stride 1 with the CIFAR stem
//   head: conv1x1(-> 1280 * max(1, m)) BN ReLU6
//   penultimate: global average pool [B, 1280 * max(1, m)]
//   logits: linear(dropout(penultimate)) [B, K]
//
// The CIFAR stem (image_size < 128 with stem = "auto") removes the stem's and the
// second stage's stride (total stride 8 instead of 32), the usual small-image adaptation.
//
// Taps, in forward order: block1..block17 (each inverted residual's output),
// penultimate, logits.
//
// Initialisation as torchvision: Kaiming-normal (fan_out) convolutions, BN 1/0,
// linear N(0, 0.01) with zero bias; drawn from the build's seed alone.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/error.h>
#include <medadv/model.h>
#include <medadv/model_parts.h>
#include <medadv/params.h>

namespace medadv::plugins::mobilenetv2 {

inline constexpr const char* kName = "mobilenetv2";
inline constexpr std::int64_t kMinImageSize = 16;
inline constexpr std::int64_t kImageNetStemFrom = 128;

enum class Stem { Cifar, ImageNet };

// The `stem` parameter: a stem, or auto (by image size).
enum class StemChoice { Auto, Cifar, ImageNet };

inline Stem stem_for(StemChoice choice, std::int64_t image_size) {
  if (choice == StemChoice::Cifar) return Stem::Cifar;
  if (choice == StemChoice::ImageNet) return Stem::ImageNet;
  return image_size < kImageNetStemFrom ? Stem::Cifar : Stem::ImageNet;
}

struct MobileNetV2Options {
  double width_mult = 1.0;
  double dropout = 0.2;
  Stem stem = Stem::Cifar;
  std::uint64_t init_seed = 0;
};

// torchvision's _make_divisible: the nearest multiple of `divisor`, at least `divisor`,
// never more than 10% below v.
inline std::int64_t make_divisible(double v, std::int64_t divisor = 8) {
  std::int64_t rounded = static_cast<std::int64_t>(v + static_cast<double>(divisor) / 2.0) / divisor * divisor;
  rounded = std::max(divisor, rounded);
  if (static_cast<double>(rounded) < 0.9 * v) rounded += divisor;
  return rounded;
}

struct StageSetting {
  std::int64_t expansion, channels, repeats, stride;
};
inline constexpr StageSetting kStages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                           {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
inline constexpr std::int64_t kStemChannels = 32;
inline constexpr std::int64_t kHeadChannels = 1280;

namespace detail {

// Appends conv(k, stride, groups, no bias) BN ReLU6: torchvision's Conv2dNormActivation.
// (A Sequential cannot hold another Sequential in LibTorch, so layers are appended.)
inline void append_conv_bn_relu6(torch::nn::Sequential& seq, std::int64_t in, std::int64_t out, std::int64_t kernel,
                                 std::int64_t stride, std::int64_t groups = 1) {
  seq->push_back(torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding((kernel - 1) / 2).groups(groups).bias(false)));
  seq->push_back(torch::nn::BatchNorm2d(out));
  seq->push_back(torch::nn::ReLU6());
}

inline torch::nn::Sequential conv_bn_relu6(std::int64_t in, std::int64_t out, std::int64_t kernel,
                                           std::int64_t stride) {
  torch::nn::Sequential seq;
  append_conv_bn_relu6(seq, in, out, kernel, stride);
  return seq;
}

class InvertedResidual : public torch::nn::Module {
 public:
  InvertedResidual(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t expansion)
      : use_residual_(stride == 1 && in == out) {
    const auto hidden = static_cast<std::int64_t>(std::llround(static_cast<double>(in * expansion)));
    torch::nn::Sequential layers;
    if (expansion != 1) append_conv_bn_relu6(layers, in, hidden, 1, 1);
    append_conv_bn_relu6(layers, hidden, hidden, 3, stride, hidden);                             // depthwise
    layers->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1).bias(false)));  // linear bottleneck
    layers->push_back(torch::nn::BatchNorm2d(out));
    conv_ = register_module("conv", layers);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto h = conv_->forward(x);
    return use_residual_ ? x + h : h;
  }

 private:
  bool use_residual_;
  torch::nn::Sequential conv_{nullptr};
};

}  // namespace detail

class MobileNetV2 : public TappedModule {
 public:
  MobileNetV2(const ModelSpec& spec, const MobileNetV2Options& o) : stem_(o.stem) {
    check_model_spec(kName, spec, Task::Classification, kMinImageSize, "up to five 2x downsamplings");
    if (!(o.width_mult > 0.0) || !std::isfinite(o.width_mult))
      throw InvalidInput(std::string(kName) + ": width_mult must be > 0");
    if (!(o.dropout >= 0.0 && o.dropout < 1.0)) throw InvalidInput(std::string(kName) + ": dropout must be in [0, 1)");
    normalize_ = InputNormalization(*this, kName, spec);

    const bool cifar = stem_ == Stem::Cifar;
    std::int64_t in = make_divisible(kStemChannels * o.width_mult);
    stem_conv_ = register_module("stem", detail::conv_bn_relu6(spec.channels, in, 3, cifar ? 1 : 2));
    auto blocks = register_module("blocks", torch::nn::ModuleList());
    for (std::size_t stage = 0; stage < std::size(kStages); ++stage) {
      const auto& st = kStages[stage];
      const std::int64_t out = make_divisible(static_cast<double>(st.channels) * o.width_mult);
      const std::int64_t stage_stride = (cifar && stage == 1) ? 1 : st.stride;
      for (std::int64_t i = 0; i < st.repeats; ++i) {
        auto block = std::make_shared<detail::InvertedResidual>(in, out, i == 0 ? stage_stride : 1, st.expansion);
        blocks->push_back(block);
        blocks_.push_back(block);
        tap_names_.push_back("block" + std::to_string(blocks_.size()));
        in = out;
      }
    }
    const std::int64_t head = make_divisible(kHeadChannels * std::max(1.0, o.width_mult));
    head_ = register_module("head", detail::conv_bn_relu6(in, head, 1, 1));
    dropout_ = register_module("dropout", torch::nn::Dropout(torch::nn::DropoutOptions(o.dropout)));
    fc_ = register_module("fc", torch::nn::Linear(head, spec.num_classes));
    tap_names_.push_back("penultimate");
    tap_names_.push_back("logits");
    SeededInit(o.init_seed).torchvision_style(*this, SeededInit::Linear::Normal001);
  }

  std::vector<std::string> tap_names() const override { return tap_names_; }

  ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    TapCollector out(kName, taps, tap_names_);
    auto h = stem_conv_->forward(normalize_(x));
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      h = blocks_[i]->forward(h);
      out.offer("block" + std::to_string(i + 1), h);
    }
    const auto pooled = head_->forward(h).mean({2, 3});
    out.offer("penultimate", pooled);
    return out.finish(fc_->forward(dropout_->forward(pooled)));
  }

  Stem stem() const { return stem_; }

 private:
  Stem stem_;
  InputNormalization normalize_;
  torch::nn::Sequential stem_conv_{nullptr}, head_{nullptr};
  std::vector<std::shared_ptr<detail::InvertedResidual>> blocks_;
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
  std::vector<std::string> tap_names_;
};

class MobileNetV2Plugin : public ModelPlugin {
 public:
  static void schema(ParamSchema& s) {
    s.add_float("width_mult", 1.0,
                "Width multiplier of every layer (channels rounded to multiples of 8, as torchvision; the "
                "1280-channel head only grows)")
        .min_exclusive(0.0)
        .max(4.0);
    s.add_float("dropout", 0.2,
                "Dropout probability before the final linear layer, in training only (torchvision: 0.2)")
        .min(0.0)
        .max_exclusive(1.0);
    s.add_enum<StemChoice>("stem",
                           {{"auto", StemChoice::Auto}, {"cifar", StemChoice::Cifar}, {"imagenet", StemChoice::ImageNet}},
                           StemChoice::Auto,
               "cifar: stem and second stage at stride 1 (total stride 8); imagenet: torchvision's strides "
               "(total stride 32); auto: imagenet from 128 px, cifar below");
  }

  MobileNetV2Plugin(const Params& p, RunContext& ctx)
      : width_mult_(p.get_float("width_mult")),
        dropout_(p.get_float("dropout")),
        stem_(p.get_enum<StemChoice>("stem")),
        seeds_(ctx, kName) {}

  std::shared_ptr<TappedModule> build(const ModelSpec& spec) override {
    MobileNetV2Options o;
    o.width_mult = width_mult_;
    o.dropout = dropout_;
    o.stem = stem_for(stem_, spec.image_size);
    o.init_seed = seeds_.next();
    return std::make_shared<MobileNetV2>(spec, o);
  }

 private:
  double width_mult_, dropout_;
  StemChoice stem_;
  BuildSeeds seeds_;
};

}  // namespace medadv::plugins::mobilenetv2
