#pragma once
// The commands' help text: host/cli/help/commands.md, compiled into the binary by
// host/embed_files.cmake (docs/decisions.md "Command help in one Markdown file").
#include <string>
#include <vector>

#include "common/embedded_file.h"

namespace medadv::host {

struct CommandHelp {
  std::string usage;        // "medadv plugins list [--kind KIND] [--json]"
  std::string summary;      // the line in `medadv --help`
  std::string description;  // the paragraph in `medadv COMMAND --help`
};

// The help of the command named `name` ("plugins list"). Throws std::logic_error when
// commands.md has no section for it (a mistake of the build, not of the user).
const CommandHelp& command_help(const std::string& name);

// The files under host/cli/help/ (commands.md), sorted by path.
const std::vector<EmbeddedFile>& help_files();

}  // namespace medadv::host
