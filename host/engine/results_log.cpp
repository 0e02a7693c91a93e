#include "engine/results_log.h"

#include "common/atomic_file.h"

namespace medadv::host {

std::string json_string_field(const std::string& line, const std::string& key) {
  const std::string needle = "\"" + key + "\":\"";
  const auto at = line.find(needle);
  if (at == std::string::npos) return "";
  const auto begin = at + needle.size();
  const auto end = line.find('"', begin);
  return end == std::string::npos ? "" : line.substr(begin, end - begin);
}

ResultsLog::ResultsLog(std::filesystem::path file) : file_(std::move(file)) {
  if (!std::filesystem::exists(file_)) return;
  const std::string text = read_text_file(file_);
  std::string kept;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const auto end = text.find('\n', begin);
    const std::string line = text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    const bool complete = end != std::string::npos && line.size() >= 2 && line.front() == '{' && line.back() == '}';
    const std::string hash = complete ? json_string_field(line, "hash") : "";
    if (complete && !hash.empty()) {
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
