#pragma once
// The run directory of ARCHITECTURE.md section 7: runs/<name>/<timestamp>/ or --output.
#include <filesystem>
#include <string>
#include <vector>

namespace medadv::host {

struct RunDirectoryRequest {
  std::string name;                // the experiment's name
  std::filesystem::path output;    // --output, or empty for runs/<name>/<timestamp>
  bool resume = false;             // continue the run already in `output`
  std::string model_hash;          // Plan::model_hash: data set, model, training, seed
};

// Creates the directory (with images/ and adversarial/), or checks that a run to resume
// is there and is a run of the same experiment: the same name and model_hash, as its
// manifest.json records them (attacks, defenses and detectors may have changed; their
// trials have hashes of their own). Throws InvalidInput for --resume without a run or
// into another experiment's run, an --output that already holds a run without --resume
// (nothing is overwritten), or an --output that is not a directory.
std::filesystem::path open_run_directory(const RunDirectoryRequest& request);

// "20261123-142501": local time, sortable.
std::string timestamp_id();
// ISO 8601 UTC, e.g. "2026-11-23T14:25:01Z".
std::string utc_now();

}  // namespace medadv::host
