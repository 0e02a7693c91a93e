#pragma once
// `medadv new KIND NAME`: the files of a ready-to-build plugin folder (CMake project
// using find_package(MedAdvSDK) + medadv_add_plugin, the plugin, a GoogleTest test
// that can fail, and a README).
#include <string>
#include <vector>

#include "medadv/kind.h"

namespace medadv::host {

struct ScaffoldFile {
  std::string path;  // relative to the new folder, e.g. "CMakeLists.txt"
  std::string content;
};

// Throws InvalidInput unless `name` is lower-case letters, digits and '-', starting
// with a letter (the plugin name users write in experiments).
void validate_plugin_name(const std::string& name);

// The folder's files for a plugin of `kind` named `name`.
std::vector<ScaffoldFile> scaffold_plugin(Kind kind, const std::string& name);

}  // namespace medadv::host
