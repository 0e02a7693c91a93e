#pragma once
// A run directory as the report sees it: the files the engine wrote, never its plugins.
#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "medadv/value.h"

namespace medadv::host {

struct RunData {
  std::filesystem::path dir;
  std::vector<Value> trials;  // results.jsonl, one table per finished trial, file order
  Value resolved;             // resolved.json (null when absent)
  Value manifest;             // manifest.json (null when absent)
  std::string experiment_name;  // resolved experiment.name, else the manifest's, else the parent folder
  std::string run_id;           // manifest run_id, else the folder name
  bool torn_last_line = false;  // results.jsonl ended in an unterminated, unparsable line (skipped)
};

// Reads results.jsonl (required), resolved.json and manifest.json (optional). Blank lines
// are skipped, and so is a last line that has no newline and does not parse (a write cut
// short by a crash, as the engine's results log treats it); a trial repeated (a resumed or
// merged run) keeps its last line, at the place of its first. Throws InvalidInput naming the directory when results.jsonl is missing,
// and file:line:column for a line that is not a JSON object with string "trial" and "kind".
RunData read_run(const std::filesystem::path& dir);

// Trial fields as the report shows them.
// A field's text: strings as they are, numbers as Value::to_string writes them (shortest
// exact: 0.05, 8.0), booleans true/false; nullopt when absent or null.
std::optional<std::string> field_text(const Value& trial, const std::string& key);
// A metric's value: a number, nullopt when absent, null or not a number.
std::optional<double> metric_value(const Value& trial, const std::string& key);

// Trials grouped by a key: the keys in order of first appearance, each with its trials
// (members[i] are the trials of keys[i], in the order added).
template <typename Key>
struct TrialGroups {
  std::vector<Key> keys;
  std::vector<std::vector<const Value*>> members;
  void add(const Key& key, const Value* trial) {
    const auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) {
      keys.push_back(key);
      members.push_back({trial});
    } else {
      members[it - keys.begin()].push_back(trial);
    }
  }
};

}  // namespace medadv::host
