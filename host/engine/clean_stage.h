#pragma once
// A variant's clean accuracy (classification) or Dice and mIoU (segmentation) on a split.
#include <cstdint>

#include <c10/core/Device.h>

#include "engine/attack_stage.h"
#include "medadv/model.h"

namespace medadv::host {

struct CleanEvaluation {
  std::int64_t n = 0;
  double accuracy = 0.0;  // classification
  double dice = 0.0;      // segmentation
  double miou = 0.0;
  double seconds = 0.0;
};

CleanEvaluation evaluate_clean(DifferentiableModel& model, const SplitData& split, std::int64_t batch_size,
                               c10::Device device);

}  // namespace medadv::host
