#pragma once
// results.jsonl: one JSON object per finished trial, appended durably. On resume, the
// trials already in it (by hash) are not run again.
#include <filesystem>
#include <set>
#include <string>

namespace medadv::host {

class ResultsLog {
 public:
  // Reads the existing file, if any. A last line cut short by a crash (no newline, and
  // not a result) is dropped from the file, with the count in dropped_lines(). Any other
  // line that is not a result (a JSON object with "hash") throws InvalidInput naming the
  // file and line: resuming past it would silently run its trial again.
  explicit ResultsLog(std::filesystem::path file);

  bool finished(const std::string& trial_hash) const { return finished_.count(trial_hash) > 0; }
  std::size_t size() const { return finished_.size(); }
  int dropped_lines() const { return dropped_; }
  // Appends one result line (a JSON object carrying "hash").
  void append(const std::string& trial_hash, const std::string& json_line);
  const std::filesystem::path& path() const { return file_; }

 private:
  std::filesystem::path file_;
  std::set<std::string> finished_;
  int dropped_ = 0;
};

}  // namespace medadv::host
