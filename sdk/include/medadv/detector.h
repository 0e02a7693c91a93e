#pragma once
// Detectors score inputs as adversarial: higher means more adversarial.
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/attack.h"
#include "medadv/capabilities.h"
#include "medadv/context.h"
#include "medadv/export.h"
#include "medadv/image_batches.h"

namespace medadv {

// What a detector fits on, read a batch at a time (issue 25: never a whole split in
// memory): the adv_train samples the attack turned, and the same rows attacked.
struct MEDADV_API DetectorFitData {
  std::shared_ptr<const ImageBatches> clean;        // labels() are their classes [N] int64
  std::shared_ptr<const ImageBatches> adversarial;  // row i attacks clean row i; null for unsupervised detectors
  std::int64_t size() const { return clean ? clean->size() : 0; }
  torch::Tensor labels() const { return clean ? clean->labels() : torch::Tensor(); }
};

// Fit data over images in memory (tests, tools): `clean` [N,C,H,W] with `labels` [N] and,
// for supervised detectors, `adversarial` [N,C,H,W] (undefined: none). Throws
// InvalidInput as tensor_batches() does.
MEDADV_API DetectorFitData detector_fit_data(torch::Tensor clean, torch::Tensor labels,
                                             torch::Tensor adversarial = {});

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
