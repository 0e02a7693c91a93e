#pragma once
// What an attack trial leaves in the run directory besides its results line: the example
// grid (images/<trial>.png) and, when [report] export lists "npz", the arrays it was
// scored on (adversarial/<trial>.npz).
#include <filesystem>
#include <map>
#include <string>

#include "engine/attack_stage.h"
#include "engine/trial_records.h"
#include "experiment/plan.h"
#include "medadv/dataset.h"
#include "medadv/value.h"

namespace medadv::host {

struct AttackFiles {
  std::map<std::string, std::string> files;  // "grid", "npz" -> path relative to the run directory
  ExampleInfo examples;
};

AttackFiles write_attack_files(const std::filesystem::path& run_dir, const Value& report, const Trial& trial,
                               Task task, const SplitData& split, const AttackOutcome& outcome);

}  // namespace medadv::host
