#include "engine/run_record.h"

#include <algorithm>

#include "common/text_file.h"
#include "medadv/atomic_file.h"
#include "common/json.h"
#include "engine/run_directory.h"
#include "medadv/device.h"

namespace medadv::host {

RunRecord::RunRecord(const LoadedExperiment& experiment, const Plan& plan, const RunOptions& options,
                     const ContextFactory& contexts)
    : plan_(plan), contexts_(contexts) {
  const CheckedExperiment& e = experiment.checked;
  dir_ = open_run_directory({plan.name, options.output, options.resume, plan.model_hash});
  // log.txt gets everything the terminal gets, for the record.
  log_file_ = contexts.shared_log()->tee_to(dir_ / "log.txt");
  if (!options.resume) write_file_atomically(dir_ / "experiment.toml", read_text_file(experiment.file));
  write_file_atomically(dir_ / "resolved.json", to_json(e.resolved) + "\n");
  const int threads = contexts()->threads();
  manifest_ = std::make_unique<Manifest>(dir_ / "manifest.json", e, plan, contexts.settings().device, threads,
                                         options.overrides);
  manifest_->write("running");
  results_ = std::make_unique<ResultsLog>(dir_ / "results.jsonl");
  if (results_->dropped_lines() > 0)
    contexts.log().warn("results.jsonl: dropped {} incomplete line(s) left by an interrupted run",
                        results_->dropped_lines());
  const c10::Device device = contexts.settings().device;
  const std::string math = !device.is_cuda()                       ? ""
                           : e.cuda_math == CudaMath::Reproducible ? ", reproducible CUDA math"
                                                                   : ", fast CUDA math (TF32, autotuned)";
  contexts.log().info("run {}: {} trials on {} ({} threads{}){}", dir_.string(), plan.trials.size(), device.str(),
                      threads, math, options.resume ? "; resuming" : "");
}

bool RunRecord::any_pending() const {
  return std::any_of(plan_.trials.begin(), plan_.trials.end(), [&](const Trial& t) { return pending(t); });
}

std::string RunRecord::begin(const Trial& trial) {
  const auto index = static_cast<std::size_t>(&trial - plan_.trials.data());
  const std::string stage = "[" + std::to_string(index + 1) + "/" + std::to_string(plan_.trials.size()) + "] " + trial.id;
  contexts_.log().info("{}", stage);
  return stage;
}

void RunRecord::append(const Trial& trial, const std::string& json_line) {
  results_->append(trial.hash, json_line);
  ++run_;
}

void RunRecord::finish() {
  const std::size_t kept = plan_.trials.size() - run_;
  if (kept > 0) contexts_.log().info("{} trial(s) were already finished and kept", kept);
  manifest_->write("finished");
  contexts_.log().info("{} trial(s) run; run directory: {}", run_, dir_.string());
}

}  // namespace medadv::host
