#pragma once
// small-cnn: a compact VGG-style classifier for any channel count, class count and
// image size >= 8.
//
//   (x - mean) / std
//   block1: conv3x3(C->w)   BN ReLU conv3x3(w->w)   BN ReLU maxpool2
//   block2: conv3x3(w->2w)  BN ReLU conv3x3(2w->2w) BN ReLU maxpool2
//   block3: conv3x3(2w->4w) BN ReLU conv3x3(4w->4w) BN ReLU maxpool2
//   penultimate: global average pool [B, 4w]
//   logits: linear(dropout(penultimate)) [B, K]
//
// Taps: block1, block2, block3, penultimate, logits.
//
// The implementation is header-only so that tests can include it: the plugin library
// (small_cnn.cpp) only adds the MEDADV_PLUGINS(...) line.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/error.h>
#include <medadv/model.h>
#include <medadv/model_parts.h>
#include <medadv/params.h>

namespace medadv::plugins::small_cnn {

inline constexpr const char* kName = "small-cnn";
inline constexpr std::int64_t kMinImageSize = 8;  // three 2x poolings leave >= 1 pixel

struct SmallCnnOptions {
  std::int64_t channels = 3;
  std::int64_t num_classes = 2;
  std::int64_t width = 16;
  double dropout = 0.0;
  std::vector<double> mean;  // one per channel
  std::vector<double> std;   // one per channel, > 0
  std::uint64_t init_seed = 0;
};

namespace detail {

inline torch::nn::Sequential conv_block(std::int64_t in, std::int64_t out) {
  torch::nn::Conv2d c1(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
  torch::nn::Conv2d c2(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false));
  return torch::nn::Sequential(c1, torch::nn::BatchNorm2d(out), torch::nn::ReLU(), c2, torch::nn::BatchNorm2d(out),
                               torch::nn::ReLU(), torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
}

}  // namespace detail

class SmallCnn : public TappedModule {
 public:
  explicit SmallCnn(const SmallCnnOptions& o) {
    if (o.channels < 1) throw InvalidInput(std::string(kName) + ": channels must be >= 1");
    if (o.num_classes < 1) throw InvalidInput(std::string(kName) + ": num_classes must be >= 1");
    if (o.width < 1) throw InvalidInput(std::string(kName) + ": width must be >= 1");
    if (!(o.dropout >= 0.0 && o.dropout < 1.0)) throw InvalidInput(std::string(kName) + ": dropout must be in [0, 1)");
    normalize_ = InputNormalization(*this, kName, o.channels, o.mean, o.std);

    const std::int64_t w = o.width;
    block1_ = register_module("block1", detail::conv_block(o.channels, w));
    block2_ = register_module("block2", detail::conv_block(w, 2 * w));
    block3_ = register_module("block3", detail::conv_block(2 * w, 4 * w));
    dropout_ = register_module("dropout", torch::nn::Dropout(torch::nn::DropoutOptions(o.dropout)));
    fc_ = register_module("fc", torch::nn::Linear(4 * w, o.num_classes));
    reset_parameters(o.init_seed);
  }

  std::vector<std::string> tap_names() const override {
    return {"block1", "block2", "block3", "penultimate", "logits"};
  }

  ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    TapCollector out(kName, taps, tap_names());
    auto h = normalize_(x);
    h = block1_->forward(h);
    out.offer("block1", h);
    h = block2_->forward(h);
    out.offer("block2", h);
    h = block3_->forward(h);
    out.offer("block3", h);
    auto pooled = h.mean({2, 3});
    out.offer("penultimate", pooled);
    return out.finish(fc_->forward(dropout_->forward(pooled)));
  }

  // Re-initialises every parameter from `seed` alone (independent of LibTorch's global
  // generator): Kaiming-normal (fan_out, ReLU) convolutions, BN weight 1 and bias 0,
  // and PyTorch's default uniform(+-1/sqrt(fan_in)) linear layer.
  void reset_parameters(std::uint64_t seed) {
    SeededInit(seed).torchvision_style(*this, SeededInit::Linear::TorchDefault);
  }

 private:
  InputNormalization normalize_;
  torch::nn::Sequential block1_{nullptr}, block2_{nullptr}, block3_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

// Options for a spec and the plugin's parameters; throws InvalidInput for what
// small-cnn cannot build.
inline SmallCnnOptions options_for(const ModelSpec& spec, std::int64_t width, double dropout, std::uint64_t seed) {
  check_model_spec(kName, spec, Task::Classification, kMinImageSize, "three 2x poolings");
  SmallCnnOptions o;
  o.channels = spec.channels;
  o.num_classes = spec.num_classes;
  o.width = width;
  o.dropout = dropout;
  o.mean = InputNormalization::per_channel(kName, spec.mean, InputNormalization::kDefaultMean, spec.channels, "mean");
  o.std = InputNormalization::per_channel(kName, spec.std, InputNormalization::kDefaultStd, spec.channels, "std");
  o.init_seed = seed;
  return o;
}

class SmallCnnPlugin : public ModelPlugin {
 public:
  static void schema(ParamSchema& s) {
    s.add_int("width", 16, "Channels of the first conv block; the blocks have width, 2*width, 4*width")
        .min(4)
        .max(1024);
    // [0, 1) in principle; p > 0.99 is useless.
    s.add_float("dropout", 0.0, "Dropout probability before the final linear layer (at most 0.99)")
        .min(0.0)
        .max(0.99);
  }

  SmallCnnPlugin(const Params& p, RunContext& ctx)
      : width_(p.get_int("width")), dropout_(p.get_float("dropout")), seeds_(ctx, kName) {}

  std::shared_ptr<TappedModule> build(const ModelSpec& spec) override {
    return std::make_shared<SmallCnn>(options_for(spec, width_, dropout_, seeds_.next()));
  }

 private:
  std::int64_t width_;
  double dropout_;
  BuildSeeds seeds_;
};

}  // namespace medadv::plugins::small_cnn
