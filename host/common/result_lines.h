#pragma once
// The lines of results.jsonl as the engine (resume) and the report read them alike.
#include <optional>
#include <string_view>
#include <vector>

namespace medadv::host {

// One line of results.jsonl: its number (from 1) and its text without the line end.
struct ResultLine {
  int number = 0;
  std::string_view text;
};

// The non-blank lines of results.jsonl. A line ends with "\n" or "\r\n" (an editor may
// have saved the file either way). The last line without an end comes apart: a write
// cut short by a crash leaves one.
struct ResultLines {
  std::vector<ResultLine> ended;
  std::optional<ResultLine> unended;
};
ResultLines split_result_lines(std::string_view text);

}  // namespace medadv::host
