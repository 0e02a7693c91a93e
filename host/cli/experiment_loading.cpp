#include "cli/experiment_loading.h"

namespace medadv::host {

void declare_experiment_options(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("file", po::value<std::string>()->required(), "the experiment (.toml)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a key, e.g. --set model.train.epochs=2 or --set 'attack[0].epsilon=\"4/255\"'; repeatable");
  p.add("file", 1);
}

std::unique_ptr<LoadedExperiment> load_experiment(const po::variables_map& vm, const GlobalOptions& g) {
  const std::vector<std::string> overrides =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  return load_experiment(vm["file"].as<std::string>(), overrides, g.plugin_paths);
}

}  // namespace medadv::host
