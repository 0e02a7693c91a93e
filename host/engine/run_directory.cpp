#include "engine/run_directory.h"

#include <ctime>

#include "common/text_file.h"
#include "medadv/error.h"
#include "common/json.h"

namespace medadv::host {

namespace fs = std::filesystem;

namespace {

// The time now as `format` (strftime), in UTC or in the local time zone.
std::string now_as(const char* format, bool utc) {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  if (utc)
    gmtime_r(&now, &parts);
  else
    localtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, format, &parts);
  return text;
}

}  // namespace

std::string timestamp_id() { return now_as("%Y%m%d-%H%M%S", /*utc=*/false); }

std::string utc_now() { return now_as("%Y-%m-%dT%H:%M:%SZ", /*utc=*/true); }

namespace {

// The manifest's string `key`, or "" when it has none (a run from before it was recorded).
std::string manifest_text(const Value& manifest, const char* key) {
  const Value* v = manifest.find(key);
  return v && v->type() == Value::Type::String ? v->as_string() : "";
}

// Resuming another experiment's run would mix two experiments' results in one
// results.jsonl and overwrite its resolved.json and manifest.json.
void require_same_experiment(const fs::path& dir, const RunDirectoryRequest& request) {
  const fs::path file = dir / "manifest.json";
  if (!fs::exists(file)) return;  // the run stopped before its manifest was written
  const Value manifest = parse_json(read_text_file(file), file.string());
  const std::string name = manifest_text(manifest, "experiment");
  const std::string hash = manifest_text(manifest, "model_hash");
  const std::string advice = "; resuming would mix the two in one results.jsonl: start a new run (another --output)";
  if (!name.empty() && name != request.name)
    throw InvalidInput("--resume: " + dir.string() + " holds a run of experiment '" + name + "', not '" + request.name +
                       "'" + advice);
  if (!hash.empty() && !request.model_hash.empty() && hash != request.model_hash)
    throw InvalidInput("--resume: the run in " + dir.string() +
                       " was made with another data set, model, training or seed than this experiment (model hash " +
                       hash.substr(0, 12) + ", now " + request.model_hash.substr(0, 12) + ")" + advice);
}

}  // namespace

fs::path open_run_directory(const RunDirectoryRequest& request) {
  fs::path dir = request.output;
  if (!dir.empty() && fs::exists(dir) && !fs::is_directory(dir))
    throw InvalidInput("--output " + dir.string() + ": exists and is not a directory");
  if (request.resume) {
    if (dir.empty()) throw InvalidInput("--resume needs --output DIR: the run directory to continue");
    if (!fs::exists(dir / "resolved.json"))
      throw InvalidInput("--resume: " + dir.string() + " holds no run (no resolved.json); start one with --output " +
                         dir.string());
    require_same_experiment(dir, request);
  } else if (dir.empty()) {
    const fs::path parent = fs::path("runs") / request.name;
    dir = parent / timestamp_id();
    for (int n = 2; fs::exists(dir); ++n) dir = parent / (timestamp_id() + "-" + std::to_string(n));
  } else if (fs::exists(dir / "results.jsonl") || fs::exists(dir / "resolved.json")) {
    throw InvalidInput(dir.string() + " already holds a run; pass --resume to continue it, or choose another --output");
  }
  std::error_code error;
  for (const char* sub : {"", "images", "adversarial"}) {
    fs::create_directories(dir / sub, error);
    // The place was the user's choice (--output, or the name under runs/): invalid input.
    if (error) throw InvalidInput("cannot create " + (dir / sub).string() + ": " + error.message());
  }
  return dir;
}

}  // namespace medadv::host
