#pragma once
// The first stage of a run: the data set loaded and split, and everything checked that
// needs it and an untrained model before any training.
#include <map>
#include <memory>
#include <string>

#include "common/host_context.h"
#include "engine/attack_stage.h"
#include "experiment/plan.h"
#include "medadv/dataset.h"
#include "medadv/model.h"

namespace medadv::host {

struct LoadedData {
  DatasetContents contents;
  std::map<std::string, torch::Tensor> splits;  // index tensors, by split name
  SplitData adv_train, adv_test;

  const SplitData& split(const std::string& name) const;  // adv_train or adv_test
};

// Loads and splits the data set, then asks an untrained model
// what the experiment needs of it: every attack handles the task and every tap an attack
// term or a detector names exists. Trains nothing; throws InvalidInput listing every
// problem (exit status 2).
LoadedData load_data(const Plan& plan, std::uint64_t seed, const ContextFactory& contexts);

}  // namespace medadv::host
