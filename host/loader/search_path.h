#pragma once
// Where plugins are looked for, in order (ARCHITECTURE.md section 3):
// --plugin-path flags, MEDADV_PLUGIN_PATH, experiment.plugin_path (relative to the
// TOML file), ${XDG_DATA_HOME:-~/.local/share}/medadv/plugins, the install prefix's
// lib/medadv/plugins, and the build tree's plugin directory.
#include <filesystem>
#include <string>
#include <vector>

namespace medadv::host {

struct SearchEntry {
  std::filesystem::path path;  // a directory, or one library file
  std::string origin;          // "--plugin-path", "MEDADV_PLUGIN_PATH", ...
  bool must_exist;             // named by the user: missing is an error
};

struct SearchPathInputs {
  std::vector<std::string> cli_paths;
  std::vector<std::filesystem::path> experiment_paths;  // already resolved against the TOML
  bool include_defaults = true;
};

// Builds the ordered, de-duplicated search path. Throws InvalidInput naming the
// origin when a path the user named does not exist.
std::vector<SearchEntry> build_search_path(const SearchPathInputs& inputs);

// The default locations alone (for --help and diagnostics).
std::vector<SearchEntry> default_search_entries();

}  // namespace medadv::host
