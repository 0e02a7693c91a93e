#pragma once
// A file compiled into the binary as text by host/embed_files.cmake.
#include <string_view>

namespace medadv::host {

struct EmbeddedFile {
  std::string_view path;  // relative to the embedded folder: "common/CMakeLists.txt"
  std::string_view content;
};

}  // namespace medadv::host
