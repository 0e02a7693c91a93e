#include <cstring>
#include <iostream>

#include "cli/command.h"
#include "cli/command_help.h"
#include "common/logging.h"
#include "loader/discovery.h"
#include "loader/guard.h"
#include "loader/plugin_library.h"
#include "medadv/error.h"
#include "medadv/version.h"

namespace medadv::host {

std::vector<std::string> GlobalOptions::as_arguments() const {
  std::vector<std::string> args;
  for (const auto& p : plugin_paths) args.insert(args.end(), {"--plugin-path", p});
  if (verbosity > 0) args.push_back("--verbose");
  if (verbosity < 0) args.push_back("--quiet");
  if (!log_file.empty()) args.insert(args.end(), {"--log-file", log_file});
  return args;
}

std::vector<Command> all_commands() {
  return {plugins_list_command(), plugins_info_command(), plugins_check_command(), plugins_check_child_command(),
          plugins_reference_command(),
          new_command(),          validate_command(),     run_command(),
          report_command(),
          train_command(),
          datasets_preview_command()};
}

bool discover_plugins(PluginRegistry& registry, const GlobalOptions& globals,
                      const std::vector<std::filesystem::path>& extra) {
  return discover_plugins(registry, globals.plugin_paths, extra);
}

namespace {

po::options_description global_options_description(GlobalOptions& g) {
  po::options_description d("Global options");
  d.add_options()
      ("plugin-path", po::value(&g.plugin_paths)->composing(),
       "search this directory (or library file) for plugins first; repeatable")
      ("verbose,v", "log debug messages")
      ("quiet,q", "log errors only")
      ("log-file", po::value(&g.log_file), "also write the log to this file")
      ("help,h", "show help for this command");
  return d;
}

std::string version_text() {
  const HostAbi& abi = host_abi();
  return std::string("medadv ") + MEDADV_VERSION + "\n  plugin ABI " + std::to_string(abi.abi_major) + "." +
         std::to_string(abi.abi_minor) + " (entry symbol " MEDADV_ENTRY_SYMBOL_STRING ")\n  LibTorch " +
         std::to_string(abi.torch_major) + "." + std::to_string(abi.torch_minor) +
         (torch::cuda::is_available() ? " with CUDA (" + std::to_string(torch::cuda::device_count()) + " device(s))"
                                      : std::string(" (CPU)")) +
         "\n  C++ ABI " + abi.cxx_abi_tag + "\n";
}

void print_general_help(std::ostream& out) {
  out << "medadv " MEDADV_VERSION " - adversarial robustness experiments on medical image models\n\n"
      << "Usage: medadv [global options] <command> [options]\n\nCommands:\n";
  for (const auto& c : all_commands()) {
    if (c.hidden) continue;
    out << "  " << c.name << std::string(c.name.size() < 16 ? 16 - c.name.size() : 1, ' ')
        << command_help(c.name).summary << "\n";
  }
  GlobalOptions g;
  out << "\n" << global_options_description(g) << "\n"
      << "  --version             print the version, plugin ABI and LibTorch build\n\n"
      << "Run 'medadv <command> --help' for a command's options.\n"
      << "Exit status: 0 success, 2 invalid input (file, experiment, parameter, plugin), 1 runtime failure.\n";
}

// The command words are the first one or two arguments that are not options (or
// values of the global options that take one).
std::vector<std::string> command_words(int argc, char** argv, std::vector<std::string>& rest) {
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool takes_value = a == "--plugin-path" || a == "--log-file";
    if (a.rfind("-", 0) == 0) {
      rest.push_back(a);
      if (takes_value && i + 1 < argc) rest.push_back(argv[++i]);
      continue;
    }
    const bool want_more =
        words.empty() || (words.size() == 1 && (words[0] == "plugins" || words[0] == "datasets"));
    if (want_more) words.push_back(a);
    else rest.push_back(a);
  }
  return words;
}

int dispatch(int argc, char** argv) {
  std::vector<std::string> rest;
  const auto words = command_words(argc, argv, rest);
  const bool asks_version = std::find(rest.begin(), rest.end(), "--version") != rest.end();
  if (words.empty() && asks_version) {
    std::cout << version_text();
    return kExitOk;
  }
  if (words.empty() || (words.size() == 1 && words[0] == "help")) {
    print_general_help(std::cout);
    return words.empty() && rest.empty() ? kExitInvalid : kExitOk;
  }
  if (words[0] == "version") {
    std::cout << version_text();
    return kExitOk;
  }
  std::string name = words[0];
  for (std::size_t i = 1; i < words.size(); ++i) name += " " + words[i];
  std::vector<Command> commands = all_commands();
  const Command* command = nullptr;
  for (const auto& c : commands)
    if (c.name == name) command = &c;
  if (!command) {
    std::vector<std::string> names;
    for (const auto& c : commands)
      if (!c.hidden) names.push_back(c.name);
    std::string message = "unknown command '" + name + "'" + did_you_mean(name, names) + "; commands:";
    for (const auto& n : names) message += " '" + n + "'";
    throw InvalidInput(message);
  }

  GlobalOptions globals;
  po::options_description options("Options");
  po::positional_options_description positional;
  command->declare(options, positional);
  po::options_description all;
  all.add(options).add(global_options_description(globals));
  po::variables_map vm;
  po::store(po::command_line_parser(rest).options(all).positional(positional).run(), vm);
  if (vm.count("help")) {
    const CommandHelp& help = command_help(command->name);
    std::cout << "Usage: " << help.usage << "\n\n" << help.description << "\n\n" << options << "\n"
              << global_options_description(globals) << "\n";
    return kExitOk;
  }
  po::notify(vm);
  globals.verbosity = vm.count("verbose") ? 1 : vm.count("quiet") ? -1 : 0;
  try {
    set_host_log(std::make_shared<HostLog>(LogSettings{globals.verbosity, globals.log_file}));
  } catch (const LogFileError& e) {
    throw InvalidInput("--log-file " + globals.log_file + ": " + e.what());
  }
  return command->run(vm, globals);
}

}  // namespace

int run_cli(int argc, char** argv) {
  try {
    return dispatch(argc, argv);
  } catch (const po::error& e) {
    host_log()->error("{} (see --help)", e.what());
    return kExitInvalid;
  } catch (const InvalidInput& e) {
    host_log()->error("{}", e.what());
    return kExitInvalid;
  } catch (const c10::Error& e) {
    host_log()->error("{}", e.what_without_backtrace());
    return kExitRuntime;
  } catch (const std::exception& e) {
    host_log()->error("{}", e.what());
    return kExitRuntime;
  }
}

}  // namespace medadv::host
