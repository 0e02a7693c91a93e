#pragma once
// Add-on loss terms any white-box attack can carry (HFC, feature matching, detector
// evasion, feature stress test).
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/capabilities.h"
#include "medadv/context.h"
#include "medadv/export.h"
#include "medadv/model.h"

namespace medadv {

class MEDADV_API AttackTerm {
 public:
  virtual ~AttackTerm();
  // Taps this term reads in every forward.
  virtual std::vector<std::string> taps() const = 0;
  // Called once on clean data before the attack runs.
  virtual void fit(DifferentiableModel& model, const torch::Tensor& images,
                   const torch::Tensor& labels, RunContext& ctx) = 0;
  // Per-sample term to maximise, [B].
  virtual torch::Tensor loss(const ModelOutput& out, const torch::Tensor& x_adv) = 0;
};

}  // namespace medadv
