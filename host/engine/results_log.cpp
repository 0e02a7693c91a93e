#include "engine/results_log.h"

#include "common/json.h"
#include "common/text_file.h"
#include "medadv/atomic_file.h"
#include "medadv/error.h"

namespace medadv::host {

namespace {

// The trial hash of one line, or "" when the line is not a whole result (cut short by a crash).
std::string hash_of(const std::string& line) {
  try {
    const Value result = parse_json(line, "results.jsonl");
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
  std::string kept;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const auto end = text.find('\n', begin);
    const std::string line = text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    const std::string hash = end != std::string::npos ? hash_of(line) : "";
    if (!hash.empty()) {
      finished_.insert(hash);
      kept += line + "\n";
    } else if (!line.empty()) {
      ++dropped_;
    }
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  if (dropped_ > 0) write_file_atomically(file_, kept);
}

void ResultsLog::append(const std::string& trial_hash, const std::string& json_line) {
  append_line_durably(file_, json_line);
  finished_.insert(trial_hash);
}

}  // namespace medadv::host
