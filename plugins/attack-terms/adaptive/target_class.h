#pragma once
// The class an adaptive term steers each image towards (specs/ADAPTIVE.md: targeted
// attacks, the other class for binary tasks): the objective's target, or, for an
// untargeted attack on a binary task, the other class than the label. Shared by hfc,
// feature-match and kde-evasion.
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include <medadv/error.h>

namespace medadv::plugins::adaptive {

// Target classes [B] int64 on `device`, from the attack's `labels` [B] and `targets` [B]
// (undefined unless targeted) for a model of `classes` classes. Throws InvalidInput naming
// `who` when there is no target: untargeted with more than two classes, or labels that are
// not class indices.
inline torch::Tensor target_classes(const std::string& who, std::int64_t classes, const torch::Tensor& labels,
                                    const torch::Tensor& targets, c10::Device device) {
  if (targets.defined()) {
    if (targets.dim() != 1)
      throw InvalidInput(who + ": steers images to a target class; the attack's targets are not class indices "
                               "(a segmentation task?)");
    return targets.to(device, torch::kLong);
  }
  if (classes == 2 && labels.defined() && labels.dim() == 1) return 1 - labels.to(device, torch::kLong);
  throw InvalidInput(who + ": needs a target class: use a targeted objective (target = ...), or a binary task, where "
                           "the other class is the target");
}

// The class labels of a term's fit data as int64 on `device`, refused (naming `who`) when
// they are not one class index per image.
inline torch::Tensor fit_classes(const std::string& who, const torch::Tensor& labels, c10::Device device) {
  if (!labels.defined() || labels.dim() != 1)
    throw InvalidInput(who + ": fits on a classifier's features per class; the attack's labels are not class indices "
                             "(a segmentation task?)");
  return labels.to(device, torch::kLong);
}

}  // namespace medadv::plugins::adaptive
