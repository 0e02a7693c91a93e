#pragma once
// The smoke run of `medadv plugins check`: each plugin in a library is created with
// its defaults (shrunk where the schema allows) and exercised once on a tiny
// synthetic batch with a tiny built-in model. Any fault throws.
#include <memory>
#include <string>

#include "loader/plugin_library.h"
#include "medadv/context.h"

namespace medadv::host {

struct SmokeResult {
  bool ran = false;    // false: skipped, e.g. a parameter without default
  std::string detail;  // what was checked, or why it was skipped
};

SmokeResult smoke_run(const PluginHandle& plugin, const std::shared_ptr<RunContext>& ctx);

}  // namespace medadv::host
