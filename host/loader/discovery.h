#pragma once
// Discovery as every command does it: the search path built from the user's paths
// (ARCHITECTURE.md section 3), shadowing warnings and rejected libraries logged.
#include <filesystem>
#include <string>
#include <vector>

#include "loader/registry.h"

namespace medadv::host {

// `user_paths`: --plugin-path values; `experiment_paths`: experiment.plugin_path, resolved
// against the experiment file. Returns whether any library was rejected.
bool discover_plugins(PluginRegistry& registry, const std::vector<std::string>& user_paths,
                      const std::vector<std::filesystem::path>& experiment_paths = {});

}  // namespace medadv::host
