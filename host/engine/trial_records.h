#pragma once
// One results.jsonl line per finished trial: identity fields, then every metric by its
// name (ARCHITECTURE.md section 8, medadv/metrics.h), then the files it wrote.
#include <map>
#include <string>
#include <vector>

#include "engine/attack_stage.h"
#include "engine/clean_stage.h"
#include "engine/detector_stage.h"
#include "experiment/plan.h"
#include "medadv/dataset.h"

namespace medadv::host {

struct ExampleInfo {
  std::string grid;  // path relative to the run directory
  std::int64_t columns = 0;
  double amplification = 1.0;
};

std::string clean_record(const Plan& plan, const Trial& trial, const DatasetMeta& meta, const CleanEvaluation& e);

std::string attack_record(const Plan& plan, const Trial& trial, const DatasetMeta& meta, const SplitData& split,
                          const AttackOutcome& outcome, const std::map<std::string, std::string>& files,
                          const ExampleInfo& examples);

std::string detector_record(const Plan& plan, const Trial& trial, const SplitData& test_split,
                            const AttackOutcome& test_attack, const DetectionOutcome& detection);

}  // namespace medadv::host
