#pragma once
// Models and feature taps (ARCHITECTURE.md sections 2 and 4). One forward returns the
// logits and the requested taps; detectors, attack terms and the stress test all use
// this mechanism.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/export.h"

namespace medadv {

enum class Task { Classification, Segmentation };
MEDADV_API const char* task_name(Task t);

struct MEDADV_API ModelOutput {
  torch::Tensor logits;  // [B, K] (classification) or [B, K, H, W] (segmentation)
  std::map<std::string, torch::Tensor> taps;
  // Throws medadv::Error naming the tap and the taps present.
  const torch::Tensor& tap(const std::string& name) const;
};

// What a model plugin is asked to build.
struct MEDADV_API ModelSpec {
  std::int64_t channels = 3;
  std::int64_t num_classes = 2;
  std::int64_t image_size = 32;
  Task task = Task::Classification;
  // Per-channel normalisation applied inside the model: attacks work in [0,1].
  std::vector<double> mean;
  std::vector<double> std;
};

// A plain LibTorch module that names its layers. Inputs are in [0,1] pixel space.
class MEDADV_API TappedModule : public torch::nn::Module {
 public:
  ~TappedModule() override;
  // Every tap this model offers, in forward order; at least "penultimate" and
  // "logits" for classifiers.
  virtual std::vector<std::string> tap_names() const = 0;
  // Logits, plus the taps named in `taps` (an unknown name throws medadv::Error).
  virtual ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) = 0;
  torch::Tensor forward(const torch::Tensor& x) { return forward_taps(x, {}).logits; }
};

// Model plugin interface: an architecture factory.
class MEDADV_API ModelPlugin {
 public:
  virtual ~ModelPlugin();
  virtual std::shared_ptr<TappedModule> build(const ModelSpec& spec) = 0;
  // Non-empty when build() returns a module that already holds trained weights (a user's
  // TorchScript file, say): a text that changes whenever those weights do ("sha256:..." of
  // the file). The host then evaluates and attacks the module as it is built, unless the
  // experiment gives [model] train, and puts this text into the weights cache key of what
  // it trains from it. Empty (the default) for models whose build() initialises afresh.
  virtual std::string built_weights_identity() const { return {}; }
};

}  // namespace medadv
