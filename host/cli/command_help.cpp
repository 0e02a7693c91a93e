#include "cli/command_help.h"

#include <map>
#include <sstream>
#include <stdexcept>

namespace medadv::host {

namespace {

// commands.md: under each "## command name" heading a "- usage: " line, a "- summary: "
// line and the description, whose lines are joined with single spaces. What stands
// before the first heading is about the file, not a command.
std::map<std::string, CommandHelp> parse_commands_md(std::string_view text) {
  const std::string usage_prefix = "- usage: ", summary_prefix = "- summary: ";
  std::map<std::string, CommandHelp> commands;
  CommandHelp* current = nullptr;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("## ", 0) == 0) {
      current = &commands[line.substr(3)];
    } else if (!current || line.empty()) {
      continue;
    } else if (line.rfind(usage_prefix, 0) == 0) {
      current->usage = line.substr(usage_prefix.size());
    } else if (line.rfind(summary_prefix, 0) == 0) {
      current->summary = line.substr(summary_prefix.size());
    } else {
      current->description += (current->description.empty() ? "" : " ") + line;
    }
  }
  return commands;
}

const std::map<std::string, CommandHelp>& all_help() {
  static const std::map<std::string, CommandHelp> help = [] {
    for (const auto& file : help_files())
      if (file.path == "commands.md") return parse_commands_md(file.content);
    throw std::logic_error("the embedded command help has no commands.md");
  }();
  return help;
}

}  // namespace

const CommandHelp& command_help(const std::string& name) {
  const auto& help = all_help();
  const auto it = help.find(name);
  if (it == help.end()) throw std::logic_error("host/cli/help/commands.md has no section '## " + name + "'");
  return it->second;
}

}  // namespace medadv::host
