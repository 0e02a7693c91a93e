#pragma once
// The host's RunContext: device, seed, logging, progress and cache for plugins.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <c10/core/Device.h>

#include "common/logging.h"
#include "medadv/context.h"
#include "medadv/device.h"

namespace medadv::host {

struct ContextSettings {
  c10::Device device{c10::kCPU};
  std::uint64_t seed = 0;
  int threads = 0;  // 0: OMP_NUM_THREADS when set, else all cores
  std::filesystem::path cache_dir;  // empty: ${MEDADV_CACHE:-~/.cache/medadv}
};

// ${MEDADV_CACHE:-${XDG_CACHE_HOME:-~/.cache}/medadv}
std::filesystem::path default_cache_dir();

// What a plugin logs goes to the host's log, prefixed with the plugin's name.
class PluginLogger : public Logger {
 public:
  PluginLogger(std::shared_ptr<HostLog> log, std::string prefix = "");
  void log(LogLevel level, const std::string& message) override;

 private:
  std::shared_ptr<HostLog> log_;
  std::string prefix_;
};

// Logs a line per progress step when stderr is not a terminal, and redraws one status
// line when it is.
class LogProgress : public Progress {
 public:
  explicit LogProgress(std::shared_ptr<HostLog> log);
  void begin(const std::string& stage, std::int64_t total) override;
  void advance(std::int64_t done) override;
  void end() override;

 private:
  std::shared_ptr<HostLog> log_;
  std::string stage_;
  std::int64_t total_ = 0, done_ = 0;
  bool terminal_;
  std::int64_t last_logged_ = -1;
  std::chrono::steady_clock::time_point started_;
};

class HostContext : public RunContext {
 public:
  HostContext(ContextSettings settings, std::shared_ptr<HostLog> log, std::string plugin_prefix = "");
  c10::Device device() const override { return settings_.device; }
  std::uint64_t seed() const override { return settings_.seed; }
  Logger& log() override { return logger_; }
  Progress& progress() override { return progress_; }
  std::filesystem::path cache_dir() const override;
  int threads() const override;

 private:
  ContextSettings settings_;
  PluginLogger logger_;
  LogProgress progress_;
};

// Makes the contexts one run hands its plugins: one run's settings and log, each context
// with its plugin's prefix. Shared, so that an instance can own the context it was made
// with (PluginHandle::create).
class ContextFactory {
 public:
  ContextFactory(ContextSettings settings, std::shared_ptr<HostLog> log)
      : settings_(std::move(settings)), log_(std::move(log)) {}
  std::shared_ptr<HostContext> operator()(const std::string& plugin_prefix = "") const {
    return std::make_shared<HostContext>(settings_, log_, plugin_prefix);
  }
  const ContextSettings& settings() const { return settings_; }
  HostLog& log() const { return *log_; }
  const std::shared_ptr<HostLog>& shared_log() const { return log_; }

 private:
  ContextSettings settings_;
  std::shared_ptr<HostLog> log_;
};

// An experiment's process-wide compute settings, for the commands that compute
// (`medadv run`, `medadv train`): LibTorch's intra-op threads and the CUDA math.
void apply_compute_settings(const HostContext& ctx, CudaMath math);

}  // namespace medadv::host
