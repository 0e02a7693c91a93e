#pragma once
// The surrogate of a gray-box or transfer attack ([attack.surrogate], ARCHITECTURE.md
// section 4): a model the host trains (or loads from the weights cache, or from its
// `checkpoint`) like the victim, on the victim's training split with the surrogate's own
// seed or on the images the splits leave unused, which the victim never saw. The attack
// and its terms read only it; the victim scores the result.
#include <map>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "common/host_context.h"
#include "engine/data_stage.h"
#include "experiment/loaded_experiment.h"
#include "experiment/plan.h"
#include "medadv/capabilities.h"
#include "medadv/training.h"

namespace medadv::host {

struct PreparedSurrogate {
  std::shared_ptr<DifferentiableModel> model;
  std::map<std::string, torch::Tensor> splits;  // train and val: what it was trained and validated on
  std::string description;                     // "resnet18 1.0, trained on 720 images (split "train", seed 1)"
  EvalMetrics val;                              // on its own val split
  // How the attack holds it: gray-box for [attack.surrogate] (no-box plugins get no-box);
  // white-box for the undefended victim a `bpda = false` attack is crafted on.
  ThreatModel threat = ThreatModel::GrayBox;
};

// The train and val index tensors of the surrogate. "train": the victim's. "disjoint":
// the images no split of the victim holds (the share [dataset] splits leave unused),
// stratified 90/10 into train and val with the surrogate's seed. Throws InvalidInput,
// naming the attack's key, when fewer than 10 images are left unused.
std::map<std::string, torch::Tensor> surrogate_splits(const SurrogatePlan& surrogate, const std::string& attack_section,
                                                      const DataSource& source,
                                                      const std::map<std::string, torch::Tensor>& victim_splits);

// Trains, loads from the cache, or loads the checkpoint of the attack's surrogate.
PreparedSurrogate prepare_surrogate(const LoadedExperiment& experiment, const Plan& plan, const AttackPlan& attack,
                                    const LoadedData& data, const ContextFactory& contexts);

}  // namespace medadv::host
