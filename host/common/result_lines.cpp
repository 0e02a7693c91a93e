#include "common/result_lines.h"

namespace medadv::host {

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

}  // namespace medadv::host
