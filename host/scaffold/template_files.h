#pragma once
// The files `medadv new` starts from (host/scaffold/templates/), compiled into the
// binary by host/scaffold/embed_templates.cmake.
#include <string_view>
#include <vector>

namespace medadv::host::scaffold {

struct TemplateFile {
  std::string_view path;     // relative to templates/: "common/CMakeLists.txt", "attack/@TARGET@.h"
  std::string_view content;  // with the placeholders described in scaffold.cpp
};

// Sorted by path.
const std::vector<TemplateFile>& template_files();

}  // namespace medadv::host::scaffold
