#pragma once
// The first stage of a run: the data set loaded and split, and everything checked that
// needs it and an untrained model before any training.
#include <map>
#include <memory>
#include <string>

#include "common/host_context.h"
#include "engine/attack_stage.h"
#include "engine/memory_estimate.h"
#include "experiment/plan.h"
#include "medadv/dataset.h"
#include "medadv/model.h"

namespace medadv::host {

struct LoadedData {
  std::shared_ptr<DataSource> source;
  std::map<std::string, torch::Tensor> splits;  // index tensors into the source, by split name
  SplitData adv_train, adv_test;  // the attacked splits (labels and masks; images read by batch)

  const SplitData& split(const std::string& name) const;  // adv_train or adv_test
};

// Opens and splits the data set, then asks an untrained model
// what the experiment needs of it: every attack handles the task and every tap an attack
// term or a detector names exists. Trains nothing; throws InvalidInput listing every
// problem (exit status 2).
// Before reading any image it estimates the run's peak memory and refuses (InvalidInput) a
// run that would not fit.
// Any split of the source by its index tensor, e.g. the training split that attack terms fit
// on: labels and masks read now, images a batch at a time later.
SplitData split_data(const std::shared_ptr<DataSource>& source, const torch::Tensor& index);

LoadedData load_data(const Plan& plan, std::uint64_t seed, std::int64_t batch_size, const ContextFactory& contexts);

// The data set opened and split, and the memory a run of it would take; reads no image
// (what --dry-run prints).
MemoryEstimate estimate_run_memory(const Plan& plan, std::uint64_t seed, std::int64_t batch_size,
                                   const ContextFactory& contexts);

}  // namespace medadv::host
