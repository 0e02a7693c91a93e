#pragma once
// What an attack is handed, by threat model (ARCHITECTURE.md section 4). The host
// builds a Capability that holds only what the attack's declared threat model grants;
// asking for anything else throws CapabilityError.
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/abi.h"
#include "medadv/error.h"
#include "medadv/export.h"
#include "medadv/kind.h"
#include "medadv/model.h"

namespace medadv {



// A differentiable view of a model: the victim (white-box, seen through any
// preprocessing defense with BPDA and any randomized wrapper with EOT) or a surrogate.
// Weights are frozen; gradients flow to the input only.
class MEDADV_API DifferentiableModel {
 public:
  virtual ~DifferentiableModel();
  virtual ModelOutput forward(const torch::Tensor& x, const std::vector<std::string>& taps) = 0;
  virtual std::vector<std::string> tap_names() const = 0;
  virtual std::int64_t num_classes() const = 0;
  virtual Task task() const = 0;
  // True when forward is stochastic (a randomized defense): attacks average over it.
  virtual bool randomized() const;
  torch::Tensor logits(const torch::Tensor& x) { return forward(x, {}).logits; }
};

// Wraps a TappedModule as a DifferentiableModel (the common case). Freezes the module:
// eval mode, and weights that need no gradient.
class MEDADV_API ModuleModel : public DifferentiableModel {
 public:
  ModuleModel(std::shared_ptr<TappedModule> module, std::int64_t num_classes, Task task);
  ~ModuleModel() override;
  ModelOutput forward(const torch::Tensor& x, const std::vector<std::string>& taps) override;
  std::vector<std::string> tap_names() const override;
  std::int64_t num_classes() const override { return num_classes_; }
  Task task() const override { return task_; }
  TappedModule& module() { return *module_; }

 private:
  std::shared_ptr<TappedModule> module_;
  std::int64_t num_classes_;
  Task task_;
};

// A randomised model seen through Expectation over Transformation (Athalye et al. 2018):
// the host wraps a randomised defense in one when the attack says `eot = N`. Its forward
// is what the defended model predicts on average over N draws (expected_logits); the
// white-box kit takes each step's gradient as the mean of N single draws' gradients
// through one_draw(), the expectation of the gradient. The kit finds it by dynamic_cast.
class MEDADV_API ExpectationOverDraws {
 public:
  virtual ~ExpectationOverDraws();
  virtual std::int64_t draws() const = 0;
  // The randomised model itself: each forward is one draw.
  virtual DifferentiableModel& one_draw() = 0;
};

// The logits of the average prediction over draws: log of the mean softmax for
// classification logits [B, K]; the mean of the logits otherwise (segmentation maps).
inline torch::Tensor expected_logits(const std::vector<torch::Tensor>& draws) {
  const torch::Tensor stacked = torch::stack(draws);
  if (stacked.dim() != 3) return stacked.mean(0);
  return (torch::logsumexp(torch::log_softmax(stacked, 2), {0}) - std::log(static_cast<double>(draws.size())));
}

// Black-box access: outputs without gradients, every query row counted against the
// budget of the batch sample it is made for. A query that would take any sample past
// its budget is refused whole with QueryBudgetExceeded (nothing is evaluated).
//
// `owners` says which batch sample each row of `x` belongs to (int64 [R], values in
// [0, B)); undefined means `x` holds exactly one row per batch sample, in order.
// Attacks that query candidates for a subset of samples pass the owners.
class MEDADV_API Oracle {
 public:
  virtual ~Oracle();
  // Probabilities [R, K]; throws CapabilityError for a labels-only oracle.
  virtual torch::Tensor probabilities(const torch::Tensor& x, const torch::Tensor& owners = {}) = 0;
  // Predicted labels [R].
  virtual torch::Tensor labels(const torch::Tensor& x, const torch::Tensor& owners = {}) = 0;
  virtual bool labels_only() const = 0;
  // Queries used per sample of the current batch [B] (int64, on the CPU: counting
  // never waits for the device).
  virtual torch::Tensor queries() const = 0;
  virtual std::int64_t budget_per_sample() const = 0;
  virtual std::int64_t num_classes() const = 0;
};


// What the host hands an attack. Accessors throw CapabilityError when the declared
// threat model does not grant the thing asked for.
class MEDADV_API Capability {
 public:
  static Capability white_box(std::shared_ptr<DifferentiableModel> victim);
  static Capability gray_box(std::shared_ptr<DifferentiableModel> surrogate);
  static Capability black_box(std::shared_ptr<Oracle> oracle);
  static Capability no_box(std::shared_ptr<DifferentiableModel> surrogate);

  ThreatModel threat_model() const { return threat_model_; }
  // The model to take gradients through: the victim (white-box) or the surrogate
  // (gray-box, no-box). Throws for black-box.
  DifferentiableModel& gradient_model() const;
  // White-box only.
  DifferentiableModel& victim() const;
  // Gray-box and no-box only.
  DifferentiableModel& surrogate() const;
  // Black-box only.
  Oracle& oracle() const;

 private:
  // The one way to build a Capability: what the threat model grants, and nothing else.
  static Capability make(ThreatModel threat_model, std::shared_ptr<DifferentiableModel> model,
                         std::shared_ptr<Oracle> oracle);

  ThreatModel threat_model_ = ThreatModel::None;
  std::shared_ptr<DifferentiableModel> model_;
  std::shared_ptr<Oracle> oracle_;
};

}  // namespace medadv
