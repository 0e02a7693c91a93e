#pragma once
// What every command that takes an experiment file does first: read it, apply --set
// overrides, discover plugins (with the experiment's own plugin_path), validate it all.
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "experiment/loaded_experiment.h"

namespace medadv::host {

// FILE (positional) and --set KEY=VALUE (repeatable).
void declare_experiment_options(po::options_description& o, po::positional_options_description& p);

// Throws ValidationError with every problem found.
std::unique_ptr<LoadedExperiment> load_experiment(const po::variables_map& vm, const GlobalOptions& g);

}  // namespace medadv::host
