#include "common/text_file.h"

#include <fstream>
#include <sstream>

#include "medadv/error.h"

namespace medadv::host {

std::string read_text_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InvalidInput("cannot read " + file.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace medadv::host
