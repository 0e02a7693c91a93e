// `medadv plugins check FILE`: vets a library received from someone else. The work
// happens in a child process (`plugins check-child`), so a plugin that crashes is
// reported, not suffered.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/dll/runtime_symbol_info.hpp>

#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "check/smoke.h"
#include "cli/command.h"
#include "common/logging.h"
#include "cli/schema_text.h"
#include "common/host_context.h"
#include "loader/guard.h"

extern char** environ;

namespace medadv::host {

namespace {

int check_in_this_process(const std::string& file, bool smoke) {
  auto log = host_log();
  std::shared_ptr<PluginLibrary> library;
  try {
    library = PluginLibrary::open(file);
  } catch (const InvalidInput& e) {
    log->error("{}", e.what());
    return kExitInvalid;
  }
  const auto& d = library->descriptor();
  std::cout << library->path().string() << "\n  sha256 " << library->sha256() << "\n  plugin ABI " << d.abi_major << "."
            << d.abi_minor << ", SDK " << d.sdk_version << ", LibTorch " << d.torch_major << "." << d.torch_minor
            << ", " << d.cxx_abi_tag << ", " << d.compiler << "\n";
  int failures = 0;
  for (const auto& plugin : library->plugins()) {
    try {
      // The schema itself, and the plugin's own defaults against it.
      const ParamSchema& schema = plugin.schema();
      for (const auto& spec : schema.specs())
        if (spec.doc().empty()) throw PluginRejectedInput(plugin.describe() + ": parameter '" + spec.name() + "' has no documentation");
      std::vector<Diagnostic> problems;
      schema.resolve(Value(Value::Table{}), plugin.name(), "", problems);
      for (auto& p : problems)
        if (p.message.find("missing required key") == std::string::npos)
          throw PluginRejectedInput(plugin.describe() + ": invalid default: " + p.to_string());
      std::string detail = std::to_string(schema.specs().size()) + " parameter(s)";
      if (smoke) {
        const SmokeResult r = smoke_run(
            plugin, std::make_shared<HostContext>(ContextSettings{torch::Device(torch::kCPU), 0, 1, {}}, log, plugin.name()));
        detail += r.ran ? "; smoke run: " + r.detail : "; smoke run skipped: " + r.detail;
      }
      std::cout << "  ok    " << plugin.kind_text() << " '" << plugin.name() << "' " << plugin.version() << ": "
                << detail << "\n";
    } catch (const std::exception& e) {
      ++failures;
      std::cout << "  FAIL  " << plugin.kind_text() << " '" << plugin.name() << "'\n";
      log->error("{}", e.what());
    }
  }
  std::cout << (failures ? "rejected: " + std::to_string(failures) + " plugin(s) failed\n" : std::string("passed\n"));
  return failures ? kExitInvalid : kExitOk;
}

std::string signal_text(int sig) {
  const char* name = strsignal(sig);
  return "signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
}

void declare_plugins_check_options(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("file", po::value<std::string>()->required(), "the plugin library (.so)")(
      "no-smoke", "only load and validate; do not run the plugins")(
      "timeout", po::value<int>()->default_value(300), "seconds before the child process is killed");
  p.add("file", 1);
}

int execute_plugins_check(const po::variables_map& vm, const GlobalOptions& g) {
  // Checked before the child starts: a deadline already past would blame the plugin.
  if (vm["timeout"].as<int>() < 1)
    throw InvalidInput("--timeout " + std::to_string(vm["timeout"].as<int>()) +
                       ": give the seconds the check may take, 1 or more");
  const std::string file = vm["file"].as<std::string>();
  const std::string exe = boost::dll::program_location().string();
  std::vector<std::string> args{exe};
  for (auto& a : g.as_arguments()) args.push_back(a);
  args.insert(args.end(), {"plugins", "check-child", file});
  if (vm.count("no-smoke")) args.push_back("--no-smoke");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ) != 0)
    throw Error("cannot start a child process to check " + file + ": " + std::strerror(errno));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(vm["timeout"].as<int>());
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      host_log()->error("{}: rejected: the check did not finish within {} s (the plugin hangs, or needs --timeout)",
                        file, vm["timeout"].as<int>());
      return kExitInvalid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFSIGNALED(status)) {
    host_log()->error("{}: rejected: the plugin crashed the checking process with {}", file,
                      signal_text(WTERMSIG(status)));
    return kExitInvalid;
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : kExitRuntime;
  return code == kExitOk ? kExitOk : kExitInvalid;
}

}  // namespace

Command plugins_check_command() { return {"plugins check", declare_plugins_check_options, execute_plugins_check}; }

namespace {

void declare_plugins_check_child_options(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("file", po::value<std::string>()->required(), "the plugin library")("no-smoke", "skip the smoke run");
  p.add("file", 1);
}

int execute_plugins_check_child(const po::variables_map& vm, const GlobalOptions&) {
  torch::set_num_threads(1);
  return check_in_this_process(vm["file"].as<std::string>(), !vm.count("no-smoke"));
}

}  // namespace

Command plugins_check_child_command() {
  return {"plugins check-child", declare_plugins_check_child_options, execute_plugins_check_child, /*hidden=*/true};
}

}  // namespace medadv::host
