#pragma once
// The engine's entry points: `medadv run` without the command line, so that a test can
// run an experiment in-process.
#include <filesystem>

#include "engine/memory_estimate.h"
#include "engine/run_record.h"
#include "experiment/loaded_experiment.h"
#include "experiment/plan.h"

namespace medadv::host {

// train or load -> defend -> attack -> detect, for every trial of `plan` not yet finished
// in the run directory; returns the directory. The caller writes the report from it.
// Throws InvalidInput (exit status 2) or Error (1); finished trials are kept either way.
std::filesystem::path run_experiment(const LoadedExperiment& experiment, const Plan& plan, const RunOptions& options);

// What run_experiment checks once the data set is loaded, before any training (the attacks
// against the task, every tap an attack term or a detector names), writing nothing.
// Throws InvalidInput listing every problem.
void check_against_data(const LoadedExperiment& experiment, const Plan& plan);

// The run's peak memory, estimated from the opened and split data set; reads no image.
MemoryEstimate estimate_run_memory(const LoadedExperiment& experiment, const Plan& plan);

}  // namespace medadv::host
