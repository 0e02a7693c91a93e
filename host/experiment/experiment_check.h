#pragma once
// Validation of a whole experiment file against the host's own sections and every
// named plugin's schema, all problems reported together (ARCHITECTURE.md section 6).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "loader/registry.h"
#include "medadv/device.h"
#include "medadv/params.h"
#include "medadv/value.h"

namespace medadv::host {

// One plugin use in the experiment, resolved against its schema.
struct PluginUse {
  std::string section;  // "dataset", "attack[0]", "attack[0].add[1]", ...
  std::string label;
  const PluginHandle* plugin = nullptr;
  Params params;
  Value host_keys;  // the section's keys that belong to the host (label, add, ...)
  // [[attack]] only: the objective keys (targeted, target, loss, kappa) resolved.
  Params objective;
  // [[attack]] with `epsilon = [...]`: one use per budget, all with the same section.
  std::string epsilon_text;
  // [model] and [attack.surrogate]: a `train` table was written (host_keys always hold
  // one, defaults filled); a model built with trained weights is trained only then.
  bool train_given = false;
};

struct CheckedExperiment {
  std::string name;
  std::uint64_t seed = 0;
  std::string device = "auto";
  int threads = 0;
  CudaMath cuda_math = CudaMath::Reproducible;
  std::int64_t batch_size = 64;
  bool attack_adv_train = true;  // record attack trials on adv_train too (detectors need them anyway)
  bool model_train_given = false;  // [model] has a `train` table (resolved always has one, with defaults)
  std::vector<PluginUse> uses;
  Value resolved;  // the experiment with every default filled in
};

// `plugin_path` entries of [experiment], resolved against the file's directory, so
// the loader can search them before validation proper.
std::vector<std::filesystem::path> experiment_plugin_paths(const Value& root, const std::filesystem::path& file);

// Throws ValidationError listing every problem.
CheckedExperiment check_experiment(const Value& root, const PluginRegistry& registry);

}  // namespace medadv::host
