#include <iostream>

#include "cli/command.h"
#include "cli/logging.h"
#include "engine/host_context.h"
#include "experiment/experiment_check.h"
#include "experiment/toml_value.h"
#include "loader/guard.h"
#include "medadv/device.h"
#include "medadv/plugin.h"
#include "report/json.h"

namespace medadv::host {

namespace {

void declare_experiment_options(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("file", po::value<std::string>()->required(), "the experiment (.toml)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a key, e.g. --set model.train.epochs=2 or --set 'attack[0].epsilon=\"4/255\"'; repeatable");
  p.add("file", 1);
}

struct LoadedExperiment {
  PluginRegistry registry;
  CheckedExperiment checked;
};

// Parse, apply overrides, discover plugins (with the experiment's own plugin_path),
// validate everything. Throws ValidationError with every problem found.
std::unique_ptr<LoadedExperiment> load_experiment(const po::variables_map& vm, const GlobalOptions& g) {
  const std::string file = vm["file"].as<std::string>();
  Value root = load_toml_file(file);
  if (vm.count("set"))
    for (const auto& s : vm["set"].as<std::vector<std::string>>()) apply_override(root, s);
  auto loaded = std::make_unique<LoadedExperiment>();
  if (discover_plugins(loaded->registry, g, experiment_plugin_paths(root, file)))
    host_log()->warn("some plugin libraries on the search path were rejected (see above)");
  loaded->checked = check_experiment(root, loaded->registry);
  return loaded;
}

std::string summary(const CheckedExperiment& e) {
  std::map<std::string, int> counts;
  for (const auto& u : e.uses) counts[u.section.substr(0, u.section.find_first_of("[."))]++;
  std::string s = "experiment '" + e.name + "': ";
  bool first = true;
  for (const auto& [section, n] : counts) {
    s += (first ? "" : ", ") + std::to_string(n) + " " + section;
    first = false;
  }
  return s;
}

}  // namespace

Command validate_command() {
  Command c;
  c.name = "validate";
  c.usage = "medadv validate FILE.toml [--set KEY=VALUE]... [--print]";
  c.summary = "check an experiment file without running it";
  c.description =
      "Validates the whole experiment before any work: TOML syntax, sections, every plugin table "
      "against its plugin's schema (types, ranges, enums, unknown keys with a did-you-mean). Every "
      "problem is reported with file:line:column, key and plugin. Exit status 2 when invalid.";
  c.declare = [](po::options_description& o, po::positional_options_description& p) {
    declare_experiment_options(o, p);
    o.add_options()("print", "print the resolved experiment (every default filled) as JSON");
  };
  c.run = [](const po::variables_map& vm, const GlobalOptions& g) {
    auto loaded = load_experiment(vm, g);
    if (vm.count("print")) std::cout << to_json(loaded->checked.resolved) << "\n";
    std::cout << vm["file"].as<std::string>() << ": valid; " << summary(loaded->checked) << "\n";
    return kExitOk;
  };
  return c;
}

Command run_command() {
  Command c;
  c.name = "run";
  c.usage = "medadv run FILE.toml [--set KEY=VALUE]...";
  c.summary = "validate an experiment, load and instantiate its plugins";
  c.description =
      "Validates the experiment, resolves the device, loads every plugin it names and creates each "
      "one with its resolved parameters. The stages that train, attack, detect and report are "
      "added by the experiment engine; until then this stops after instantiation.";
  c.declare = declare_experiment_options;
  c.run = [](const po::variables_map& vm, const GlobalOptions& g) {
    auto loaded = load_experiment(vm, g);
    const auto& e = loaded->checked;
    ContextSettings settings{resolve_device(e.device), e.seed, e.threads, {}};
    auto log = host_log();
    log->info("{} on {}", summary(e), settings.device.str());
    for (const auto& use : e.uses) {
      HostContext ctx(settings, log, use.plugin->name());
      const PluginHandle& p = *use.plugin;
      switch (p.kind()) {
        case Kind::Attack: p.create<Attack>(use.params, ctx); break;
        case Kind::AttackTerm: p.create<AttackTerm>(use.params, ctx); break;
        case Kind::Preprocessor: p.create<Preprocessor>(use.params, ctx); break;
        case Kind::Trainer: p.create<Trainer>(use.params, ctx); break;
        case Kind::Wrapper: p.create<Wrapper>(use.params, ctx); break;
        case Kind::Detector: p.create<Detector>(use.params, ctx); break;
        case Kind::Dataset: p.create<Dataset>(use.params, ctx); break;
        case Kind::Model: p.create<ModelPlugin>(use.params, ctx); break;
      }
      log->info("{}: {} ready", use.section, p.describe());
    }
    log->warn("the experiment engine (train, attack, detect, report) is not part of this build yet; stopped "
              "after loading {} plugin(s)", e.uses.size());
    return kExitOk;
  };
  return c;
}

}  // namespace medadv::host
