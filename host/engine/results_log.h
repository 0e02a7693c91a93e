#pragma once
// results.jsonl: one JSON object per finished trial, appended durably. On resume, the
// trials already in it (by hash) are not run again.
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace medadv::host {

// One line of results.jsonl: its number (from 1) and its text without the line end.
struct ResultLine {
  int number = 0;
  std::string_view text;
};

// The non-blank lines of results.jsonl, for the engine and the report alike. A line ends
// with "\n" or "\r\n" (an editor may have saved the file either way). The last line
// without an end comes apart: a write cut short by a crash leaves one.
struct ResultLines {
  std::vector<ResultLine> ended;
  std::optional<ResultLine> unended;
};
ResultLines split_result_lines(std::string_view text);

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

// The value of a top-level string field written by our JsonWriter ("hash":"...").
std::string json_string_field(const std::string& line, const std::string& key);

}  // namespace medadv::host
