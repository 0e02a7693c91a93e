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
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <medadv/context.h>
#include <medadv/error.h>
#include <medadv/model.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>

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

inline std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The per-channel normalisation of a spec: the given values (exactly one per channel)
// or the fallback for every channel.
inline std::vector<double> per_channel(const std::vector<double>& given, double fallback, std::int64_t channels,
                                       const char* what) {
  if (given.empty()) return std::vector<double>(static_cast<std::size_t>(channels), fallback);
  if (static_cast<std::int64_t>(given.size()) != channels)
    throw InvalidInput(std::string(kName) + ": spec." + what + " has " + std::to_string(given.size()) +
                       " value(s); expected " + std::to_string(channels) + " (one per input channel)");
  return given;
}

inline torch::nn::Sequential conv_block(std::int64_t in, std::int64_t out, std::vector<torch::nn::Conv2d>& convs) {
  torch::nn::Conv2d c1(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
  torch::nn::Conv2d c2(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false));
  convs.push_back(c1);
  convs.push_back(c2);
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
    const auto mean = detail::per_channel(o.mean, 0.5, o.channels, "mean");
    const auto std = detail::per_channel(o.std, 0.5, o.channels, "std");
    for (double s : std)
      if (!(s > 0.0) || !std::isfinite(s))
        throw InvalidInput(std::string(kName) + ": spec.std values must be finite and > 0");

    const std::int64_t w = o.width;
    block1_ = register_module("block1", detail::conv_block(o.channels, w, convs_));
    block2_ = register_module("block2", detail::conv_block(w, 2 * w, convs_));
    block3_ = register_module("block3", detail::conv_block(2 * w, 4 * w, convs_));
    dropout_ = register_module("dropout", torch::nn::Dropout(torch::nn::DropoutOptions(o.dropout)));
    fc_ = register_module("fc", torch::nn::Linear(4 * w, o.num_classes));
    // Buffers, so that .to(device) moves them and checkpoints record them.
    mean_ = register_buffer("input_mean", torch::tensor(mean, torch::kFloat).view({1, o.channels, 1, 1}));
    std_ = register_buffer("input_std", torch::tensor(std, torch::kFloat).view({1, o.channels, 1, 1}));
    reset_parameters(o.init_seed);
  }

  std::vector<std::string> tap_names() const override {
    return {"block1", "block2", "block3", "penultimate", "logits"};
  }

  ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    const auto names = tap_names();
    for (const auto& t : taps)
      if (std::find(names.begin(), names.end(), t) == names.end())
        throw Error(std::string(kName) + " has no tap '" + t + "'" + did_you_mean(t, names) +
                    "; available taps: " + detail::join(names));
    auto want = [&](const char* name) { return std::find(taps.begin(), taps.end(), name) != taps.end(); };

    ModelOutput out;
    auto h = (x - mean_) / std_;
    h = block1_->forward(h);
    if (want("block1")) out.taps["block1"] = h;
    h = block2_->forward(h);
    if (want("block2")) out.taps["block2"] = h;
    h = block3_->forward(h);
    if (want("block3")) out.taps["block3"] = h;
    auto pooled = h.mean({2, 3});
    if (want("penultimate")) out.taps["penultimate"] = pooled;
    out.logits = fc_->forward(dropout_->forward(pooled));
    if (want("logits")) out.taps["logits"] = out.logits;
    return out;
  }

  // Re-initialises every parameter from `seed` alone (independent of LibTorch's global
  // generator): Kaiming-normal (fan_out, ReLU) convolutions, BN weight 1 and bias 0,
  // and the usual uniform(+-1/sqrt(fan_in)) linear layer.
  void reset_parameters(std::uint64_t seed) {
    torch::NoGradGuard no_grad;
    auto gen = compat::cpu_generator(seed);
    auto draw_into = [&](torch::Tensor& p, auto&& fill) {
      auto t = torch::empty(p.sizes(), torch::TensorOptions().dtype(torch::kFloat));
      fill(t);
      p.copy_(t);
    };
    for (auto& conv : convs_) {
      auto& weight = conv->weight;
      const double fan_out = static_cast<double>(weight.size(0) * weight.size(2) * weight.size(3));
      const double sd = std::sqrt(2.0 / fan_out);
      draw_into(weight, [&](torch::Tensor& t) { t.normal_(0.0, sd, gen); });
    }
    for (const auto& m : modules(false))
      if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) bn->reset_parameters();
    const double bound = 1.0 / std::sqrt(static_cast<double>(fc_->weight.size(1)));
    draw_into(fc_->weight, [&](torch::Tensor& t) { t.uniform_(-bound, bound, gen); });
    draw_into(fc_->bias, [&](torch::Tensor& t) { t.uniform_(-bound, bound, gen); });
  }

 private:
  std::vector<torch::nn::Conv2d> convs_;
  torch::nn::Sequential block1_{nullptr}, block2_{nullptr}, block3_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
  torch::Tensor mean_, std_;
};

// Options for a spec and the plugin's parameters; throws InvalidInput for what
// small-cnn cannot build.
inline SmallCnnOptions options_for(const ModelSpec& spec, std::int64_t width, double dropout, std::uint64_t seed) {
  if (spec.task == Task::Segmentation) throw InvalidInput("small-cnn is a classifier; use unet");
  if (spec.channels < 1)
    throw InvalidInput(std::string(kName) + ": channels must be >= 1, got " + std::to_string(spec.channels));
  if (spec.num_classes < 1)
    throw InvalidInput(std::string(kName) + ": num_classes must be >= 1, got " + std::to_string(spec.num_classes));
  if (spec.image_size < kMinImageSize)
    throw InvalidInput(std::string(kName) + ": image_size must be >= " + std::to_string(kMinImageSize) +
                       " (three 2x poolings), got " + std::to_string(spec.image_size));
  SmallCnnOptions o;
  o.channels = spec.channels;
  o.num_classes = spec.num_classes;
  o.width = width;
  o.dropout = dropout;
  o.mean = detail::per_channel(spec.mean, 0.5, spec.channels, "mean");
  o.std = detail::per_channel(spec.std, 0.5, spec.channels, "std");
  o.init_seed = seed;
  return o;
}

class SmallCnnPlugin : public ModelPlugin {
 public:
  static void schema(ParamSchema& s) {
    s.add_int("width", 16, "Channels of the first conv block; the blocks have width, 2*width, 4*width")
        .min(4)
        .max(1024);
    // [0, 1) in principle; the schema has no exclusive upper bound, and p > 0.99 is useless.
    s.add_float("dropout", 0.0, "Dropout probability before the final linear layer (at most 0.99)")
        .min(0.0)
        .max(0.99);
  }

  SmallCnnPlugin(const Params& p, RunContext& ctx)
      : width_(p.get_int("width")), dropout_(p.get_float("dropout")), seed_(ctx.seed_for("small-cnn/init")) {
    if (!(dropout_ >= 0.0 && dropout_ < 1.0)) throw InvalidInput(std::string(kName) + ": dropout must be in [0, 1)");
  }

  // Every build draws its initial weights from the run's seed and the build's ordinal,
  // so a run is reproducible and two models built by one instance (a victim and its
  // surrogate) do not start from the same weights.
  std::shared_ptr<TappedModule> build(const ModelSpec& spec) override {
    const auto seed = derive_seed(seed_, "build/" + std::to_string(builds_++));
    return std::make_shared<SmallCnn>(options_for(spec, width_, dropout_, seed));
  }

 private:
  std::int64_t width_;
  double dropout_;
  std::uint64_t seed_;
  std::uint64_t builds_ = 0;
};

}  // namespace medadv::plugins::small_cnn
