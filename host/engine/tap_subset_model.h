#pragma once
// A model seen with only some of its taps: what a detector's `layers = [...]` in the
// experiment gives it. Detectors choose their taps from tap_names(), so the override
// needs nothing from each detector; reading a tap outside the subset is refused.
#include <memory>
#include <string>
#include <vector>

#include "medadv/capabilities.h"

namespace medadv::host {

class TapSubsetModel : public DifferentiableModel {
 public:
  // `taps` must all be taps of `model` (checked before any work, engine/task_check.h).
  TapSubsetModel(std::shared_ptr<DifferentiableModel> model, std::vector<std::string> taps, std::string who);
  ModelOutput forward(const torch::Tensor& x, const std::vector<std::string>& taps) override;
  std::vector<std::string> tap_names() const override { return taps_; }
  std::int64_t num_classes() const override { return model_->num_classes(); }
  Task task() const override { return model_->task(); }
  bool randomized() const override { return model_->randomized(); }

 private:
  std::shared_ptr<DifferentiableModel> model_;
  std::vector<std::string> taps_;
  std::string who_;
};

}  // namespace medadv::host
