#pragma once
// Detectors score inputs as adversarial: higher means more adversarial.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/attack.h"
#include "medadv/capabilities.h"
#include "medadv/context.h"
#include "medadv/export.h"

namespace medadv {

struct MEDADV_API DetectorFitData {
  torch::Tensor clean;        // [N,C,H,W] from the adv_train split
  torch::Tensor labels;       // [N]
  torch::Tensor adversarial;  // [N,C,H,W]; undefined for unsupervised detectors
};

class MEDADV_API Detector {
 public:
  virtual ~Detector();
  // Taps to read, chosen from those the model offers (or the experiment's `layers`). Throw
  // InvalidInput naming a tap the detector needs and `available` lacks. The host also asks
  // a fresh instance before any model is trained, so an experiment with a missing tap is
  // refused up front: answer from the parameters alone.
  virtual std::vector<std::string> taps(const std::vector<std::string>& available) const = 0;
  // Supervised detectors are fitted on clean and adversarial data; unsupervised ones
  // never see adversarial data.
  virtual bool supervised() const = 0;
  // `attacks` is set for adversarially trained detectors, else null.
  virtual void fit(DifferentiableModel& model, const DetectorFitData& data, RunContext& ctx,
                   AttackFactory* attacks) = 0;
  // Score [B]; differentiable in x when differentiable() says so.
  virtual torch::Tensor score(DifferentiableModel& model, const torch::Tensor& x) = 0;
  virtual bool differentiable() const;
};

}  // namespace medadv
