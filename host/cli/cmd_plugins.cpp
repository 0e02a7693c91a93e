#include <iostream>

#include "cli/command.h"
#include "common/logging.h"
#include "cli/schema_text.h"

namespace medadv::host {

namespace {
std::optional<Kind> kind_option(const po::variables_map& vm) {
  if (!vm.count("kind")) return std::nullopt;
  const std::string k = vm["kind"].as<std::string>();
  if (auto kind = parse_kind(k)) return kind;
  std::string message = "--kind " + k + ": unknown kind" + did_you_mean(k, all_kind_names()) + "; kinds:";
  for (const auto& n : all_kind_names()) message += " " + n;
  throw InvalidInput(message);
}
void declare_plugins_list_options(po::options_description& o, po::positional_options_description&) {
  o.add_options()("kind", po::value<std::string>(), "only this kind (attack, attack-term, preprocessor, trainer, "
                                                    "wrapper, detector, dataset, model)")(
      "json", "print JSON (with every parameter schema)");
}

int execute_plugins_list(const po::variables_map& vm, const GlobalOptions& g) {
  const auto kind = kind_option(vm);
  PluginRegistry registry;
  const bool problems = discover_plugins(registry, g);
  const auto plugins = registry.all(kind);
  if (vm.count("json")) {
    std::cout << "[";
    for (std::size_t i = 0; i < plugins.size(); ++i) std::cout << (i ? ",\n " : "") << plugin_json(*plugins[i]);
    std::cout << "]\n";
  } else {
    std::size_t w_kind = 4, w_name = 4, w_version = 7;
    for (const auto* p : plugins) {
      w_kind = std::max(w_kind, std::string(p->kind_text()).size());
      w_name = std::max(w_name, p->name().size());
      w_version = std::max(w_version, p->version().size());
    }
    auto pad = [](const std::string& s, std::size_t w) { return s + std::string(w - s.size() + 2, ' '); };
    std::cout << pad("kind", w_kind) << pad("name", w_name) << pad("version", w_version) << "summary\n";
    for (const auto* p : plugins) {
      std::string summary = p->summary();
      if (p->kind() == Kind::Attack) summary += " [" + std::string(threat_model_name(p->threat_model())) + "]";
      std::cout << pad(p->kind_text(), w_kind) << pad(p->name(), w_name) << pad(p->version(), w_version) << summary
                << "\n";
    }
    if (plugins.empty()) std::cout << "(no plugins found)\n";
    for (const auto& entry : registry.searched())
      host_log()->debug("searched {} ({})", entry.path.string(), entry.origin);
  }
  return problems ? kExitInvalid : kExitOk;
}

}  // namespace

Command plugins_list_command() { return {"plugins list", declare_plugins_list_options, execute_plugins_list}; }

namespace {

void declare_plugins_info_options(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("name", po::value<std::string>()->required(), "plugin name")(
      "kind", po::value<std::string>(), "the kind, when several kinds have a plugin of this name");
  p.add("name", 1);
}

int execute_plugins_info(const po::variables_map& vm, const GlobalOptions& g) {
  const std::string name = vm["name"].as<std::string>();
  const auto kind = kind_option(vm);
  PluginRegistry registry;
  discover_plugins(registry, g);
  std::vector<const PluginHandle*> matches;
  std::vector<std::string> every;
  for (const auto* p : registry.all(kind)) {
    every.push_back(p->name());
    if (p->name() == name) matches.push_back(p);
  }
  if (matches.empty()) {
    std::string message = "no plugin named '" + name + "'";
    const auto close = closest_names(name, every);
    if (!close.empty()) message += " (did you mean '" + close.front() + "'?)";
    throw InvalidInput(message + "; 'medadv plugins list' shows them all");
  }
  for (const auto* p : matches) {
    std::cout << p->kind_text() << " '" << p->name() << "' " << p->version() << "\n  " << p->summary() << "\n";
    if (p->kind() == Kind::Attack) std::cout << "  threat model: " << threat_model_name(p->threat_model()) << "\n";
    std::cout << "  library: " << p->library().path().string() << "\n  sha256: " << p->library().sha256()
              << "\n  built with SDK " << p->library().descriptor().sdk_version << ", "
              << p->library().descriptor().compiler << "\n\nParameters:\n"
              << schema_table(p->schema()) << "\n";
  }
  return kExitOk;
}

}  // namespace

Command plugins_info_command() { return {"plugins info", declare_plugins_info_options, execute_plugins_info}; }

}  // namespace medadv::host
