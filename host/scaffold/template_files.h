#pragma once
// The files `medadv new` starts from (host/scaffold/templates/), compiled into the
// binary by host/embed_files.cmake. Paths are relative to templates/
// ("common/CMakeLists.txt", "attack/@TARGET@.h"); contents hold the placeholders
// described in scaffold.cpp.
#include <vector>

#include "common/embedded_file.h"

namespace medadv::host::scaffold {

// Sorted by path.
const std::vector<EmbeddedFile>& template_files();

}  // namespace medadv::host::scaffold
