#pragma once
// Plugin schemas rendered for people (tables) and machines (JSON); the generated
// plugin reference in docs/ is made from the same rendering.
#include <string>

#include "loader/plugin_library.h"
#include "medadv/params.h"

namespace medadv::host {

// The parameter table: name, type, default, description (nested tables indented).
std::string schema_table(const ParamSchema& schema);
// Markdown table of the same content.
std::string schema_markdown(const ParamSchema& schema);
std::string schema_json(const ParamSchema& schema);
std::string plugin_json(const PluginHandle& plugin);

}  // namespace medadv::host
