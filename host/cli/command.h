#pragma once
// The CLI's commands: each declares its options (its help text is in cli/help/commands.md)
// and runs with the parsed options plus the global ones (--plugin-path, -v, -q, --log-file).
#include <boost/program_options.hpp>

#include <functional>
#include <string>
#include <vector>

#include "loader/registry.h"

namespace medadv::host {

namespace po = boost::program_options;

enum ExitCode { kExitOk = 0, kExitRuntime = 1, kExitInvalid = 2 };

struct GlobalOptions {
  std::vector<std::string> plugin_paths;
  int verbosity = 0;
  std::string log_file;
  std::vector<std::string> as_arguments() const;  // to pass on to a child process
};

// A command's usage, summary and description are its section of cli/help/commands.md
// (command_help.h).
struct Command {
  std::string name;  // "plugins list"
  std::function<void(po::options_description&, po::positional_options_description&)> declare;
  std::function<int(const po::variables_map&, const GlobalOptions&)> run;
  bool hidden = false;
};

std::vector<Command> all_commands();
Command plugins_list_command();
Command plugins_info_command();
Command plugins_check_command();
Command plugins_reference_command();
Command plugins_check_child_command();
Command new_command();
Command validate_command();
Command run_command();
Command report_command();
Command train_command();
Command datasets_preview_command();

// Discovers plugins on the search path built from the globals (plus extra paths),
// logging shadowing warnings. Library problems are logged as errors; the return
// value says whether there were any.
bool discover_plugins(PluginRegistry& registry, const GlobalOptions& globals,
                      const std::vector<std::filesystem::path>& extra = {});

// Entry point: returns the process exit status.
int run_cli(int argc, char** argv);

}  // namespace medadv::host
