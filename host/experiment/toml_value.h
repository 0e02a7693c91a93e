#pragma once
// TOML files as medadv::Value trees that remember file, line and column.
#include <filesystem>
#include <string>

#include "medadv/value.h"

namespace medadv::host {

// Throws ValidationError ("file:line:column: <parser message>") on a syntax error and
// InvalidInput when the file cannot be read.
Value load_toml_file(const std::filesystem::path& file);
Value parse_toml_text(const std::string& text, const std::string& source_name);

// Applies "a.b=value" / "attack[1].epsilon=\"4/255\"": the value is read as TOML
// (8, 0.5, true, "x", [1,2]); a bare word is taken as a string. Throws InvalidInput.
void apply_override(Value& root, const std::string& assignment);

}  // namespace medadv::host
