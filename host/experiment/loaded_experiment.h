#pragma once
// A validated experiment with the plugins it was validated against: what the engine runs
// and what a test can build without the command line.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "experiment/experiment_check.h"
#include "loader/registry.h"

namespace medadv::host {

struct LoadedExperiment {
  std::filesystem::path file;
  PluginRegistry registry;
  CheckedExperiment checked;
};

// Reads `file`, applies the --set `overrides` in order, discovers plugins (`plugin_paths`
// first, then experiment.plugin_path and the default locations) and validates it all.
// Throws ValidationError with every problem found.
std::unique_ptr<LoadedExperiment> load_experiment(const std::filesystem::path& file,
                                                  const std::vector<std::string>& overrides,
                                                  const std::vector<std::string>& plugin_paths);

}  // namespace medadv::host
