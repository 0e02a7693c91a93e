#include "loader/discovery.h"

#include "common/logging.h"
#include "loader/search_path.h"

namespace medadv::host {

bool discover_plugins(PluginRegistry& registry, const std::vector<std::string>& user_paths,
                      const std::vector<std::filesystem::path>& experiment_paths) {
  SearchPathInputs inputs;
  inputs.cli_paths = user_paths;
  inputs.experiment_paths = experiment_paths;
  registry.discover(build_search_path(inputs));
  for (const auto& w : registry.warnings()) host_log()->warn(w);
  for (const auto& p : registry.problems()) host_log()->error(p.message);
  return !registry.problems().empty();
}

}  // namespace medadv::host
