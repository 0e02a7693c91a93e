#include "report/run_data.h"

#include <map>

#include "common/json.h"
#include "common/result_lines.h"
#include "common/text_file.h"
#include "medadv/error.h"

namespace medadv::host {

namespace fs = std::filesystem;

namespace {

Value read_optional_json(const fs::path& file) {
  if (!fs::exists(file)) return Value();
  Value v = parse_json(read_text_file(file), file.string());
  if (v.type() != Value::Type::Table) throw InvalidInput(file.string() + ": expected a JSON object");
  return v;
}

const std::string* string_at(const Value& v, std::initializer_list<const char*> path) {
  const Value* at = &v;
  for (const char* key : path) {
    at = at->find(key);
    if (!at) return nullptr;
  }
  return at->type() == Value::Type::String ? &at->as_string() : nullptr;
}

std::vector<Value> read_trials(const fs::path& file, bool& torn_last_line) {
  const std::string text = read_text_file(file);
  const ResultLines lines = split_result_lines(text);
  std::vector<ResultLine> parsed = lines.ended;
  if (lines.unended) parsed.push_back(*lines.unended);
  std::vector<Value> trials;
  std::map<std::string, std::size_t> index_of;
  for (const ResultLine& line : parsed) {
    Value trial;
    try {
      trial = parse_json(line.text, file.string(), line.number);
    } catch (const InvalidInput&) {
      // A last line without its newline was cut short by a crash; the engine drops it on resume.
      if (!lines.unended || line.number != lines.unended->number) throw;
      torn_last_line = true;
      break;
    }
    const std::string where = file.string() + ":" + std::to_string(line.number) + ": ";
    if (trial.type() != Value::Type::Table) throw InvalidInput(where + "expected a JSON object (one trial per line)");
    for (const char* key : {"trial", "kind"}) {
      const Value* v = trial.find(key);
      if (!v || v->type() != Value::Type::String)
        throw InvalidInput(where + "the trial has no string '" + key + "'");
    }
    const std::string name = trial.find("trial")->as_string();
    if (auto it = index_of.find(name); it != index_of.end()) {
      trials[it->second] = std::move(trial);
    } else {
      index_of[name] = trials.size();
      trials.push_back(std::move(trial));
    }
  }
  return trials;
}

// A detector trial of an adaptive attack whose detectors were fitted on another attack
// (detectors_fit_on) gets that attack's detection figures beside its own: auc_without /
// auc_with, tpr@90_without / tpr@90_with (same variant, detector and budget).
void pair_adaptive_detections(std::vector<Value>& trials) {
  auto same = [](const Value& a, const Value& b, const char* key) { return field_text(a, key) == field_text(b, key); };
  for (Value& t : trials) {
    const auto fit_on = field_text(t, "detectors_fit_on");
    if (field_text(t, "kind") != std::string("detector") || !fit_on) continue;
    // The "with" half stands even before the fitting attack's line exists (a run resumed
    // or still running): its cell then reads "- / with".
    for (const char* metric : {"auc", "tpr@90"})
      if (const Value* with = t.find(metric)) t.set(std::string(metric) + "_with", Value(*with));
    for (const Value& u : trials) {
      if (field_text(u, "kind") != std::string("detector") || field_text(u, "attack") != fit_on ||
          !same(t, u, "variant") || !same(t, u, "detector") || !same(t, u, "epsilon_text"))
        continue;
      for (const char* metric : {"auc", "tpr@90"})
        if (const Value* without = u.find(metric)) t.set(std::string(metric) + "_without", *without);
      break;
    }
  }
}

}  // namespace

RunData read_run(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw InvalidInput(dir.string() + ": not a directory (expected a run directory)");
  const fs::path results = dir / "results.jsonl";
  if (!fs::exists(results))
    throw InvalidInput(dir.string() + ": no results.jsonl (not a run directory, or no trial has finished yet)");
  RunData run;
  run.dir = dir;
  run.trials = read_trials(results, run.torn_last_line);
  pair_adaptive_detections(run.trials);
  run.resolved = read_optional_json(dir / "resolved.json");
  run.manifest = read_optional_json(dir / "manifest.json");
  const fs::path absolute = fs::absolute(dir).lexically_normal();
  const fs::path folder = absolute.has_filename() ? absolute : absolute.parent_path();
  if (const std::string* name = string_at(run.resolved, {"experiment", "name"})) run.experiment_name = *name;
  else if (const std::string* name = string_at(run.manifest, {"experiment"})) run.experiment_name = *name;
  else run.experiment_name = folder.parent_path().filename().string();
  if (const std::string* id = string_at(run.manifest, {"run_id"})) run.run_id = *id;
  else run.run_id = folder.filename().string();
  return run;
}

std::optional<std::string> field_text(const Value& trial, const std::string& key) {
  const Value* v = trial.find(key);
  if (!v) return std::nullopt;
  switch (v->type()) {
    case Value::Type::Null: return std::nullopt;
    case Value::Type::Bool: return std::string(v->as_bool() ? "true" : "false");
    case Value::Type::Int: return std::to_string(v->as_int());
    case Value::Type::Float: return v->to_string();
    case Value::Type::String: return v->as_string();
    default: return to_json(*v);
  }
}

std::optional<double> metric_value(const Value& trial, const std::string& key) {
  const Value* v = trial.find(key);
  if (!v || !v->is_number()) return std::nullopt;
  return v->as_double();
}

}  // namespace medadv::host
