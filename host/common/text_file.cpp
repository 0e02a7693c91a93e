#include "common/text_file.h"

#include <fstream>
#include <sstream>

#include "medadv/error.h"

namespace medadv::host {

std::string read_text_file(const std::filesystem::path& file) {
  // A directory opens as a stream that reads nothing: it would pass for an empty file.
  std::error_code error;
  if (std::filesystem::exists(file, error) && !std::filesystem::is_regular_file(file, error))
    throw InvalidInput(file.string() + ": not a regular file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InvalidInput("cannot read " + file.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace medadv::host
