#pragma once
// torchscript: a user's TorchScript model (torch.jit.script / trace, then .save) as a
// medadv model, for any architecture LibTorch can run.
//
// - `forward(x)` takes [B, C, H, W] in [0, 1] and returns the logits ([B, K], or
//   [B, K, H, W] for segmentation). The module does its own input normalisation:
//   ModelSpec::mean / std are not applied.
// - An optional method `forward_features(x) -> Dict[str, Tensor]` names the taps: its
//   keys, in the dict's order, followed by `logits`. The names are read once, at build
//   time, from a forward of a mid-grey dummy batch of the spec's size. Without it the
//   only tap is `logits` (no `penultimate`). When the dict holds "logits" too, one call
//   of forward_features serves a forward that asks for taps; otherwise forward runs as well.
// - The scripted module's parameters and buffers are registered on the wrapper under
//   their own dotted names, so parameters(), requires_grad, train()/eval(), .to() and
//   checkpoints reach them.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <torch/script.h>

#include <medadv/context.h>
#include <medadv/error.h>
#include <medadv/hash.h>
#include <medadv/model.h>
#include <medadv/model_parts.h>
#include <medadv/params.h>

namespace medadv::plugins::torchscript {

inline constexpr const char* kName = "torchscript";
inline constexpr const char* kFeaturesMethod = "forward_features";

namespace detail {

inline std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

inline std::string shape_of(const torch::Tensor& t) { return c10::str(t.sizes()); }

// Registers every parameter and buffer of `from` on `into`, mirroring its submodules,
// so both hold the very same tensors.
inline void mirror_into(torch::nn::Module& into, const torch::jit::Module& from) {
  for (const auto& p : from.named_parameters(/*recurse=*/false))
    into.register_parameter(p.name, p.value, p.value.requires_grad());
  for (const auto& b : from.named_buffers(/*recurse=*/false)) into.register_buffer(b.name, b.value);
  for (const auto& child : from.named_children()) {
    auto mirror = std::make_shared<torch::nn::Module>(child.name);
    mirror_into(*mirror, child.value);
    into.register_module(child.name, mirror);
  }
}

}  // namespace detail

// The module in `path`, loaded onto the CPU. InvalidInput naming the file when it is
// missing or is not a TorchScript archive.
inline torch::jit::Module load_script(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InvalidInput(std::string(kName) + ": path: no such file: " + path.string());
  try {
    return torch::jit::load(path.string(), torch::kCPU);
  } catch (const c10::Error& e) {
    throw InvalidInput(std::string(kName) + ": not a TorchScript archive: " + path.string() + " (" +
                       detail::first_line(e.what_without_backtrace()) + ")");
  } catch (const std::exception& e) {
    throw InvalidInput(std::string(kName) + ": not a TorchScript archive: " + path.string() + " (" +
                       detail::first_line(e.what()) + ")");
  }
}

class TorchScriptModel : public TappedModule {
 public:
  // `source` names the module in messages (its file).
  TorchScriptModel(torch::jit::Module script, const ModelSpec& spec, std::string source)
      : script_(std::move(script)), source_(std::move(source)) {
    check_model_spec(kName, spec, spec.task, 1, "a non-empty image");
    detail::mirror_into(*this, script_);
    has_features_ = script_.find_method(kFeaturesMethod).has_value();
    discover(spec);
    torch::nn::Module::train(script_.is_training());
  }

  std::vector<std::string> tap_names() const override { return tap_names_; }

  ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    TapCollector out(kName, taps, tap_names_);
    const bool wants_features =
        std::any_of(taps.begin(), taps.end(), [](const std::string& t) { return t != "logits"; });
    if (!wants_features) return out.finish(call_forward(x));
    auto features = call_features(x);
    torch::Tensor logits;
    for (auto& [name, value] : features) {
      if (name == "logits")
        logits = value;
      else
        out.offer(name, value);
    }
    return out.finish(logits.defined() ? logits : call_forward(x));
  }

  void train(bool on = true) override {
    torch::nn::Module::train(on);
    script_.train(on);
  }

 private:
  torch::Tensor call_forward(const torch::Tensor& x) {
    const auto result = script_.forward({x});
    if (!result.isTensor())
      throw Error(std::string(kName) + ": " + source_ + ": forward must return a Tensor, got " + result.tagKind());
    return result.toTensor();
  }

  // forward_features(x) as (name, tensor) pairs in the dict's order.
  std::vector<std::pair<std::string, torch::Tensor>> call_features(const torch::Tensor& x) {
    auto method = script_.find_method(kFeaturesMethod);
    const auto result = (*method)({x});
    const std::string where = std::string(kName) + ": " + source_ + ": " + kFeaturesMethod;
    if (!result.isGenericDict()) throw Error(where + " must return Dict[str, Tensor], got " + result.tagKind());
    std::vector<std::pair<std::string, torch::Tensor>> features;
    for (const auto& item : result.toGenericDict()) {
      if (!item.key().isString() || !item.value().isTensor())
        throw Error(where + " must return Dict[str, Tensor]; an entry is " + item.key().tagKind() + " -> " +
                    item.value().tagKind());
      features.emplace_back(item.key().toStringRef(), item.value().toTensor());
    }
    return features;
  }

  // Runs a mid-grey dummy batch of the spec's size in eval mode: checks the logits'
  // shape and reads the tap names. The module's mode is restored.
  void discover(const ModelSpec& spec) {
    const bool was_training = script_.is_training();
    script_.eval();
    torch::NoGradGuard no_grad;
    // Two images, not one: a tap that mixes or drops the batch dimension shows here.
    constexpr std::int64_t kBatch = 2;
    const auto dummy = torch::full({kBatch, spec.channels, spec.image_size, spec.image_size}, 0.5);
    const std::string input = "a [" + std::to_string(kBatch) + ", " + std::to_string(spec.channels) + ", " +
                              std::to_string(spec.image_size) + ", " + std::to_string(spec.image_size) + "] input";
    const std::string where = std::string(kName) + ": " + source_ + ": ";
    torch::Tensor logits;
    std::vector<std::pair<std::string, torch::Tensor>> features;
    try {
      logits = call_forward(dummy);
      if (has_features_) features = call_features(dummy);
    } catch (const InvalidInput&) {
      throw;
    } catch (const std::exception& e) {
      throw InvalidInput(where + "the module fails on " + input + ": " + detail::first_line(e.what()));
    }
    script_.train(was_training);

    std::vector<std::int64_t> expected{kBatch, spec.num_classes};
    if (spec.task == Task::Segmentation) expected = {kBatch, spec.num_classes, spec.image_size, spec.image_size};
    if (logits.sizes() != c10::IntArrayRef(expected))
      throw InvalidInput(where + "forward returns " + detail::shape_of(logits) + " for " + input + "; the " +
                         task_name(spec.task) + " spec expects " + c10::str(c10::IntArrayRef(expected)));
    // Losses, softmax and gradients need real numbers.
    if (!logits.is_floating_point())
      throw InvalidInput(where + "forward returns " + std::string(c10::toString(logits.scalar_type())) +
                         " logits; they must be floating point (e.g. float32)");
    for (const auto& [name, value] : features) {
      if (value.dim() == 0 || value.size(0) != kBatch)
        throw InvalidInput(where + kFeaturesMethod + " returns tap '" + name + "' of shape " + detail::shape_of(value) +
                           " for " + input + "; a tap keeps the batch dimension first (" + std::to_string(kBatch) +
                           " here)");
      if (name != "logits") tap_names_.push_back(name);
    }
    tap_names_.push_back("logits");
  }

  torch::jit::Module script_;
  std::string source_;
  bool has_features_ = false;
  std::vector<std::string> tap_names_;
};

class TorchScriptPlugin : public ModelPlugin {
 public:
  static void schema(ParamSchema& s) {
    s.add_string("path", "",
                 "TorchScript file (torch.jit.save) whose forward maps [B,C,H,W] in [0,1] to logits; it normalises "
                 "its own input. An optional forward_features(x) -> Dict[str, Tensor] names the taps. Relative "
                 "paths are resolved against the working directory")
        .required()
        .min_length(1);
  }

  TorchScriptPlugin(const Params& p, RunContext& ctx) : path_(p.get_string("path")), log_(ctx.log()) {}

  std::shared_ptr<TappedModule> build(const ModelSpec& spec) override {
    if (!spec.mean.empty() || !spec.std.empty())
      log_.warn(std::string(kName) + ": " + path_ +
                ": the spec's mean/std are not applied; the scripted module normalises its own input");
    return std::make_shared<TorchScriptModel>(load_script(path_), spec, path_);
  }

  // The file's bytes: the host attacks the model as the file holds it, and keys what it
  // trains from it by them (a file replaced under the same name is another model).
  std::string built_weights_identity() const override {
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw InvalidInput(std::string(kName) + ": path: cannot read " + path_);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return "TorchScript file " + path_ + ", fnv1a64 " + stable_hash(bytes.str());
  }

 private:
  std::string path_;
  Logger& log_;
};

}  // namespace medadv::plugins::torchscript
