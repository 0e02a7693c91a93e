// An experiment file, parsed (parse_toml_text, as load_toml_file does after reading it)
// and validated (check_experiment) against the registry of the built-in plugins, which
// are loaded once: every file must validate or give ValidationError (InvalidInput).
#include <cstdio>
#include <cstdlib>

#include "experiment/experiment_check.h"
#include "experiment/toml_value.h"
#include "fuzz_input.h"
#include "loader/registry.h"
#include "medadv/error.h"

namespace {
medadv::host::PluginRegistry& builtin_plugins() {
  static medadv::host::PluginRegistry registry = [] {
    medadv::host::PluginRegistry r;
    r.discover({medadv::host::SearchEntry{MEDADV_PLUGIN_DIR, "the build's plugin folder", true}});
    for (const auto& problem : r.problems()) std::fprintf(stderr, "%s\n", problem.message.c_str());
    if (!r.problems().empty() || r.all().empty()) {
      std::fprintf(stderr, "fuzz_experiment: the built-in plugins in %s did not load\n", MEDADV_PLUGIN_DIR);
      std::exit(1);
    }
    return r;
  }();
  return registry;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  builtin_plugins();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto root = medadv::host::parse_toml_text(medadv::fuzz::input_text(data, size), "fuzz.toml");
    (void)medadv::host::check_experiment(root, builtin_plugins());
  } catch (const medadv::Error&) {
  }
  return 0;
}
