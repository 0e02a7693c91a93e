#pragma once
// @NAME@: a small CNN with named feature taps.
//
// Implemented inline here so that test_@TARGET@.cpp can use the classes without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <medadv/medadv.h>

class @CLASS@Net : public medadv::TappedModule {
 public:
  @CLASS@Net(const medadv::ModelSpec& spec, std::int64_t width) {
    if (spec.task != medadv::Task::Classification)
      throw medadv::InvalidInput("@NAME@ builds classifiers only, not segmentation models");
    namespace nn = torch::nn;
    conv1_ = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(spec.channels, width, 3).padding(1).bias(false)));
    bn1_ = register_module("bn1", nn::BatchNorm2d(width));
    conv2_ = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(width, 2 * width, 3).padding(1).bias(false)));
    bn2_ = register_module("bn2", nn::BatchNorm2d(2 * width));
    fc_ = register_module("fc", nn::Linear(2 * width, spec.num_classes));
    // Buffers, not parameters: saved with the weights and moved with the model, never trained.
    mean_ = register_buffer("mean", per_channel(spec.mean, spec.channels, "mean", false));
    std_ = register_buffer("std", per_channel(spec.std, spec.channels, "std", true));
  }

  std::vector<std::string> tap_names() const override { return {"block1", "block2", "penultimate", "logits"}; }

  medadv::ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    const std::vector<std::string> names = tap_names();
    for (const auto& t : taps)
      if (std::find(names.begin(), names.end(), t) == names.end())
        throw medadv::Error("@NAME@ has no tap '" + t + "'" + medadv::did_you_mean(t, names) +
                            "; its taps: block1, block2, penultimate, logits");
    auto want = [&](const char* name) { return std::find(taps.begin(), taps.end(), name) != taps.end(); };

    medadv::ModelOutput out;
    // Attacks work in [0,1] pixel space, so normalisation belongs inside the model.
    torch::Tensor h = (x - mean_) / std_;
    h = torch::max_pool2d(torch::relu(bn1_->forward(conv1_->forward(h))), 2);
    if (want("block1")) out.taps["block1"] = h;
    h = torch::max_pool2d(torch::relu(bn2_->forward(conv2_->forward(h))), 2);
    if (want("block2")) out.taps["block2"] = h;
    // Global average pooling: the classifier does not depend on the image size.
    h = h.mean({2, 3});
    if (want("penultimate")) out.taps["penultimate"] = h;
    out.logits = fc_->forward(h);
    if (want("logits")) out.taps["logits"] = out.logits;
    return out;
  }

 private:
  // [1,C,1,1] from the spec's per-channel values: none (0.5), one for all, or one each.
  static torch::Tensor per_channel(const std::vector<double>& values, std::int64_t channels, const char* what,
                                   bool positive) {
    const auto c = static_cast<std::size_t>(channels);
    if (values.size() > 1 && values.size() != c)
      throw medadv::InvalidInput(std::string("@NAME@: ") + what + " has " + std::to_string(values.size()) +
                                 " values for " + std::to_string(c) + " channels");
    std::vector<float> v(c, 0.5f);
    for (std::size_t i = 0; i < c && !values.empty(); ++i) {
      v[i] = static_cast<float>(values.size() == 1 ? values[0] : values[i]);
      if (positive && !(v[i] > 0.0f))
        throw medadv::InvalidInput(std::string("@NAME@: ") + what + " values must be positive");
    }
    return torch::tensor(v).view({1, channels, 1, 1});
  }

  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Linear fc_{nullptr};
  torch::Tensor mean_, std_;
};

// The plugin is the architecture factory; the host builds one model per experiment.
class @CLASS@ : public medadv::ModelPlugin {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_int("width", 16, "channels of the first block (the second has twice as many)").min(1).max(1024);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/) : width_(p.get_int("width")) {}

  std::shared_ptr<medadv::TappedModule> build(const medadv::ModelSpec& spec) override {
    return std::make_shared<@CLASS@Net>(spec, width_);
  }

 private:
  std::int64_t width_;
};
