#include "engine/results_log.h"

#include "engine/atomic_file.h"
#include "medadv/error.h"

namespace medadv::host {

std::string json_string_field(const std::string& line, const std::string& key) {
  const std::string needle = "\"" + key + "\":\"";
  const auto at = line.find(needle);
  if (at == std::string::npos) return "";
  const auto begin = at + needle.size();
  const auto end = line.find('"', begin);
  return end == std::string::npos ? "" : line.substr(begin, end - begin);
}

ResultLines split_result_lines(std::string_view text) {
  ResultLines lines;
  std::size_t begin = 0;
  for (int number = 1; begin < text.size(); ++number) {
    const auto end = text.find('\n', begin);
    ResultLine line{number, text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin)};
    if (!line.text.empty() && line.text.back() == '\r') line.text.remove_suffix(1);
    const bool blank = line.text.find_first_not_of(" \t\r") == std::string_view::npos;
    if (end == std::string_view::npos) {
      if (!blank) lines.unended = line;
      break;
    }
    if (!blank) lines.ended.push_back(line);
    begin = end + 1;
  }
  return lines;
}

namespace {

// The hash of a result line, or "" when the line is not one.
std::string result_hash(std::string_view line) {
  const bool object = line.size() >= 2 && line.front() == '{' && line.back() == '}';
  return object ? json_string_field(std::string(line), "hash") : "";
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
