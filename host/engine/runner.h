#pragma once
// `medadv run`: validate -> plan -> train or load -> defend -> attack -> detect -> report,
// one trial at a time, each result appended durably so that a crash loses no finished
// trial and --resume continues where the run stopped.
#include <filesystem>
#include <string>
#include <vector>

#include "cli/experiment_loading.h"

namespace medadv::host {

struct RunOptions {
  std::filesystem::path output;  // --output (empty: runs/<name>/<timestamp>)
  bool resume = false;
  std::vector<std::string> overrides;  // --set, recorded in the manifest
};

// What `medadv run` checks once the data set is loaded, before any training (the attacks
// against the task, every tap named by an attack term or a detector): loads the data set,
// builds an untrained model to ask, writes nothing. Throws InvalidInput (exit 2) listing
// every problem.
void check_against_data(LoadedExperiment& experiment);

// Returns the run directory. Throws InvalidInput (exit 2) or Error (exit 1).
std::filesystem::path run_experiment(LoadedExperiment& experiment, const RunOptions& options);

}  // namespace medadv::host
