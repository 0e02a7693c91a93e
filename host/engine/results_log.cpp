#include "engine/results_log.h"

#include "common/json.h"
#include "common/result_lines.h"
#include "common/text_file.h"
#include "medadv/atomic_file.h"
#include "medadv/error.h"

namespace medadv::host {

namespace {

// The trial hash of one line, or "" when the line is not a result.
std::string result_hash(std::string_view line) {
  try {
    const Value result = parse_json(std::string(line), "results.jsonl");
    const Value* hash = result.find("hash");
    return hash && hash->type() == Value::Type::String ? hash->as_string() : "";
  } catch (const InvalidInput&) {
    return "";
  }
}

}  // namespace

ResultsLog::ResultsLog(std::filesystem::path file) : file_(std::move(file)) {
  if (!std::filesystem::exists(file_)) return;
  const std::string text = read_text_file(file_);
  const ResultLines lines = split_result_lines(text);
  std::string kept;
  for (const ResultLine& line : lines.ended) {
    const std::string hash = result_hash(line.text);
    if (hash.empty())
      throw InvalidInput(file_.string() + ":" + std::to_string(line.number) +
                         ": not a trial result (a JSON object with \"hash\"); repair or delete the line to resume");
    finished_.insert(hash);
    kept.append(line.text).append("\n");
  }
  if (!lines.unended) return;
  // The next append must start on a line of its own: the file is rewritten either way.
  if (const std::string hash = result_hash(lines.unended->text); !hash.empty()) {
    finished_.insert(hash);
    kept.append(lines.unended->text).append("\n");
  } else {
    ++dropped_;
  }
  write_file_atomically(file_, kept);
}

void ResultsLog::append(const std::string& trial_hash, const std::string& json_line) {
  append_line_durably(file_, json_line);
  finished_.insert(trial_hash);
}

}  // namespace medadv::host
