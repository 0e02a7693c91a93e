#include "experiment/loaded_experiment.h"

#include "common/logging.h"
#include "experiment/toml_value.h"
#include "loader/discovery.h"

namespace medadv::host {

std::unique_ptr<LoadedExperiment> load_experiment(const std::filesystem::path& file,
                                                  const std::vector<std::string>& overrides,
                                                  const std::vector<std::string>& plugin_paths) {
  Value root = load_toml_file(file.string());
  for (const auto& s : overrides) apply_override(root, s);
  auto loaded = std::make_unique<LoadedExperiment>();
  loaded->file = file;
  if (discover_plugins(loaded->registry, plugin_paths, experiment_plugin_paths(root, file)))
    host_log()->warn("some plugin libraries on the search path were rejected (see above)");
  loaded->checked = check_experiment(root, loaded->registry);
  return loaded;
}

}  // namespace medadv::host
