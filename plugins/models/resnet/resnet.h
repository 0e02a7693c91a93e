#pragma once
// resnet18 (BasicBlock [2,2,2,2]) and resnet50 (Bottleneck [3,4,6,3]) as in torchvision
// (v1.5: the stride sits in the bottleneck's 3x3 convolution), for any channel count,
// class count and image size >= 16.
//
//   (x - mean) / std
//   stem:   CIFAR style conv3x3(C->w, stride 1) BN ReLU              (image_size < 128)
//           or ImageNet style conv7x7(C->w, stride 2) BN ReLU maxpool3x3/2
//   layer1..layer4: residual blocks with w, 2w, 4w, 8w planes (x4 outputs in resnet50),
//           the first block of layers 2-4 halves the resolution
//   penultimate: global average pool [B, 8w * expansion]
//   logits: linear [B, K]
//
// Taps, in forward order: stem, block1..blockN (every residual block's output: N = 8 for
// resnet18, 16 for resnet50), for resnet50 also block<i>.relu1..relu3 before block<i>
// (after each of the bottleneck's three ReLUs; relu3 is the block's output),
// penultimate, logits.
//
// Initialisation as torchvision: Kaiming-normal (fan_out) convolutions, BN 1/0,
// PyTorch's default linear layer; drawn from the build's seed alone.
//
// The implementation is header-only so that tests can include it: the plugin library
// (resnet.cpp) only adds the MEDADV_PLUGINS(...) line.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/error.h>
#include <medadv/model.h>
#include <medadv/model_parts.h>
#include <medadv/params.h>

namespace medadv::plugins::resnet {

inline constexpr std::int64_t kMinImageSize = 16;
// From this size on, stem = "auto" picks torchvision's ImageNet stem (4x downsampling);
// below it the CIFAR stem keeps small images from shrinking to nothing.
inline constexpr std::int64_t kImageNetStemFrom = 128;

enum class Variant { ResNet18, ResNet50 };
enum class Stem { Cifar, ImageNet };

inline const char* name_of(Variant v) { return v == Variant::ResNet18 ? "resnet18" : "resnet50"; }

struct ResNetOptions {
  Variant variant = Variant::ResNet18;
  std::int64_t width = 64;  // planes of layer1; layers 2-4 double it
  Stem stem = Stem::Cifar;
  std::uint64_t init_seed = 0;
};

// The `stem` parameter: a stem, or auto (by image size).
enum class StemChoice { Auto, Cifar, ImageNet };

inline Stem stem_for(StemChoice choice, std::int64_t image_size) {
  if (choice == StemChoice::Cifar) return Stem::Cifar;
  if (choice == StemChoice::ImageNet) return Stem::ImageNet;
  return image_size < kImageNetStemFrom ? Stem::Cifar : Stem::ImageNet;
}

namespace detail {

inline torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding((kernel - 1) / 2).bias(false));
}

// conv1x1(stride) BN on the identity path when the shape changes.
inline torch::nn::Sequential downsample(std::int64_t in, std::int64_t out, std::int64_t stride) {
  return torch::nn::Sequential(conv(in, out, 1, stride), torch::nn::BatchNorm2d(out));
}

class ResidualBlock : public torch::nn::Module {
 public:
  // The block's output; offers block-internal taps named "<name>.<tap>".
  virtual torch::Tensor forward(const torch::Tensor& x, TapCollector& taps, const std::string& name) = 0;
};

class BasicBlock : public ResidualBlock {
 public:
  static constexpr std::int64_t kExpansion = 1;

  BasicBlock(std::int64_t in, std::int64_t planes, std::int64_t stride) {
    conv1_ = register_module("conv1", conv(in, planes, 3, stride));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(planes));
    conv2_ = register_module("conv2", conv(planes, planes, 3, 1));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(planes));
    if (stride != 1 || in != planes)
      downsample_ = register_module("downsample", detail::downsample(in, planes, stride));
  }

  torch::Tensor forward(const torch::Tensor& x, TapCollector&, const std::string&) override {
    auto out = torch::relu(bn1_->forward(conv1_->forward(x)));
    out = bn2_->forward(conv2_->forward(out));
    const auto identity = downsample_ ? downsample_->forward(x) : x;
    return torch::relu(out + identity);
  }

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};

class Bottleneck : public ResidualBlock {
 public:
  static constexpr std::int64_t kExpansion = 4;

  Bottleneck(std::int64_t in, std::int64_t planes, std::int64_t stride) {
    const std::int64_t out = planes * kExpansion;
    conv1_ = register_module("conv1", conv(in, planes, 1, 1));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(planes));
    conv2_ = register_module("conv2", conv(planes, planes, 3, stride));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(planes));
    conv3_ = register_module("conv3", conv(planes, out, 1, 1));
    bn3_ = register_module("bn3", torch::nn::BatchNorm2d(out));
    if (stride != 1 || in != out) downsample_ = register_module("downsample", detail::downsample(in, out, stride));
  }

  torch::Tensor forward(const torch::Tensor& x, TapCollector& taps, const std::string& name) override {
    auto h = torch::relu(bn1_->forward(conv1_->forward(x)));
    taps.offer(name + ".relu1", h);
    h = torch::relu(bn2_->forward(conv2_->forward(h)));
    taps.offer(name + ".relu2", h);
    const auto identity = downsample_ ? downsample_->forward(x) : x;
    h = torch::relu(bn3_->forward(conv3_->forward(h)) + identity);
    taps.offer(name + ".relu3", h);
    return h;
  }

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};

inline std::vector<std::int64_t> blocks_per_layer(Variant v) {
  return v == Variant::ResNet18 ? std::vector<std::int64_t>{2, 2, 2, 2} : std::vector<std::int64_t>{3, 4, 6, 3};
}

}  // namespace detail

class ResNet : public TappedModule {
 public:
  ResNet(const ModelSpec& spec, const ResNetOptions& o) : name_(name_of(o.variant)), stem_(o.stem) {
    check_model_spec(name_, spec, Task::Classification, kMinImageSize, "the stem and three 2x downsamplings");
    if (o.width < 1) throw InvalidInput(name_ + ": width must be >= 1, got " + std::to_string(o.width));
    normalize_ = InputNormalization(*this, name_, spec);

    const bool bottleneck = o.variant == Variant::ResNet50;
    const std::int64_t expansion = bottleneck ? detail::Bottleneck::kExpansion : detail::BasicBlock::kExpansion;
    conv1_ = register_module("conv1", stem_ == Stem::Cifar ? detail::conv(spec.channels, o.width, 3, 1)
                                                           : detail::conv(spec.channels, o.width, 7, 2));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(o.width));
    tap_names_.push_back("stem");

    std::int64_t in = o.width;
    const auto counts = detail::blocks_per_layer(o.variant);
    for (std::size_t layer = 0; layer < counts.size(); ++layer) {
      const std::int64_t planes = o.width << layer;
      auto list = register_module("layer" + std::to_string(layer + 1), torch::nn::ModuleList());
      for (std::int64_t b = 0; b < counts[layer]; ++b) {
        const std::int64_t stride = (layer > 0 && b == 0) ? 2 : 1;
        std::shared_ptr<detail::ResidualBlock> block;
        if (bottleneck)
          block = std::make_shared<detail::Bottleneck>(in, planes, stride);
        else
          block = std::make_shared<detail::BasicBlock>(in, planes, stride);
        list->push_back(block);
        blocks_.push_back(block);
        in = planes * expansion;
        const std::string name = "block" + std::to_string(blocks_.size());
        if (bottleneck)
          for (const char* relu : {".relu1", ".relu2", ".relu3"}) tap_names_.push_back(name + relu);
        tap_names_.push_back(name);
      }
    }
    fc_ = register_module("fc", torch::nn::Linear(in, spec.num_classes));
    tap_names_.push_back("penultimate");
    tap_names_.push_back("logits");
    SeededInit(o.init_seed).torchvision_style(*this, SeededInit::Linear::TorchDefault);
  }

  std::vector<std::string> tap_names() const override { return tap_names_; }

  ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    TapCollector out(name_, taps, tap_names_);
    auto h = torch::relu(bn1_->forward(conv1_->forward(normalize_(x))));
    if (stem_ == Stem::ImageNet) h = torch::max_pool2d(h, {3, 3}, {2, 2}, {1, 1});
    out.offer("stem", h);
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const std::string name = "block" + std::to_string(i + 1);
      h = blocks_[i]->forward(h, out, name);
      out.offer(name, h);
    }
    const auto pooled = h.mean({2, 3});
    out.offer("penultimate", pooled);
    return out.finish(fc_->forward(pooled));
  }

  Stem stem() const { return stem_; }

 private:
  std::string name_;
  Stem stem_;
  InputNormalization normalize_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::vector<std::shared_ptr<detail::ResidualBlock>> blocks_;
  torch::nn::Linear fc_{nullptr};
  std::vector<std::string> tap_names_;
};

template <Variant V>
class ResNetPlugin : public ModelPlugin {
 public:
  static void schema(ParamSchema& s) {
    s.add_int("width", 64,
              "Planes of the first stage (torchvision: 64); the four stages have width, 2, 4 and 8 times "
              "width planes (bottleneck outputs 4x that in resnet50)")
        .min(1)
        .max(1024);
    s.add_enum<StemChoice>("stem",
                           {{"auto", StemChoice::Auto}, {"cifar", StemChoice::Cifar}, {"imagenet", StemChoice::ImageNet}},
                           StemChoice::Auto,
               "cifar: conv3x3 stride 1, no max-pool (total stride 8); imagenet: torchvision's conv7x7 "
               "stride 2 + max-pool (total stride 32); auto: imagenet from 128 px, cifar below");
  }

  ResNetPlugin(const Params& p, RunContext& ctx)
      : width_(p.get_int("width")), stem_(p.get_enum<StemChoice>("stem")), seeds_(ctx, name_of(V)) {}

  std::shared_ptr<TappedModule> build(const ModelSpec& spec) override {
    ResNetOptions o;
    o.variant = V;
    o.width = width_;
    o.stem = stem_for(stem_, spec.image_size);
    o.init_seed = seeds_.next();
    return std::make_shared<ResNet>(spec, o);
  }

 private:
  std::int64_t width_;
  StemChoice stem_;
  BuildSeeds seeds_;
};

using ResNet18Plugin = ResNetPlugin<Variant::ResNet18>;
using ResNet50Plugin = ResNetPlugin<Variant::ResNet50>;

}  // namespace medadv::plugins::resnet
