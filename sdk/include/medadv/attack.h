#pragma once
// Attack plugins: optimisers over an Objective, given a Capability that matches their
// declared threat model.
#include <memory>
#include <string>

#include <torch/torch.h>

#include "medadv/capabilities.h"
#include "medadv/context.h"
#include "medadv/export.h"
#include "medadv/objective.h"
#include "medadv/value.h"

namespace medadv {

struct MEDADV_API AttackBatch {
  torch::Tensor images;   // [B,C,H,W] in [0,1], on the run's device
  torch::Tensor labels;   // [B] int64 (or masks [B,1,H,W] for segmentation)
  torch::Tensor targets;  // [B] when the objective is targeted, else undefined
};

struct MEDADV_API AttackResult {
  torch::Tensor adversarial;  // [B,C,H,W] in [0,1], inside the attack's norm ball
  torch::Tensor success;      // [B] bool
  torch::Tensor iterations;   // [B] int64: iterations used per sample
  torch::Tensor queries;      // [B] int64: victim queries per sample (0 for white-box)
};

class MEDADV_API Attack {
 public:
  virtual ~Attack();
  virtual AttackResult run(const AttackBatch& batch, Capability& capability,
                           const Objective& objective, RunContext& ctx) = 0;
};

// Lets trainers and adversarially trained detectors create attacks by plugin name.
class MEDADV_API AttackFactory {
 public:
  virtual ~AttackFactory();
  // `params` is a table validated against the attack's schema.
  virtual std::shared_ptr<Attack> make(const std::string& plugin, const Value& params) = 0;
};

}  // namespace medadv
