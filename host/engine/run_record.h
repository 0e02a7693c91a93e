#pragma once
// The run directory while a run writes it (ARCHITECTURE.md section 7): log.txt, the
// experiment as given, resolved.json, manifest.json, and results.jsonl, to which each
// finished trial is appended at once so that a crash loses none and --resume skips it.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/host_context.h"
#include "engine/manifest.h"
#include "engine/results_log.h"
#include "experiment/loaded_experiment.h"
#include "experiment/plan.h"

namespace medadv::host {

struct RunOptions {
  std::filesystem::path output;  // --output (empty: runs/<name>/<timestamp>)
  bool resume = false;
  std::vector<std::string> overrides;  // --set, recorded in the manifest
};

class RunRecord {
 public:
  RunRecord(const LoadedExperiment& experiment, const Plan& plan, const RunOptions& options,
            const ContextFactory& contexts);

  const std::filesystem::path& dir() const { return dir_; }
  // Not yet in results.jsonl.
  bool pending(const Trial& trial) const { return !results_->finished(trial.hash); }
  bool any_pending() const;
  // Logs "[i/N] <trial id>" and returns it, the label of the trial's progress.
  std::string begin(const Trial& trial);
  void append(const Trial& trial, const std::string& json_line);
  // Marks the manifest finished and logs what was run and kept.
  void finish();

 private:
  const Plan& plan_;
  const ContextFactory& contexts_;
  std::filesystem::path dir_;
  std::shared_ptr<void> log_file_;
  std::unique_ptr<Manifest> manifest_;
  std::unique_ptr<ResultsLog> results_;
  std::size_t run_ = 0;
};

}  // namespace medadv::host
