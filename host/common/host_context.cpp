#include "common/host_context.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <torch/utils.h>

namespace medadv::host {

std::filesystem::path default_cache_dir() {
  if (const char* c = std::getenv("MEDADV_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "medadv";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache/medadv";
  return std::filesystem::temp_directory_path() / "medadv-cache";
}

PluginLogger::PluginLogger(std::shared_ptr<HostLog> log, std::string prefix)
    : log_(std::move(log)), prefix_(std::move(prefix)) {}

void PluginLogger::log(LogLevel level, const std::string& message) {
  const std::string text = prefix_.empty() ? message : prefix_ + ": " + message;
  switch (level) {
    case LogLevel::Debug: log_->debug(text); break;
    case LogLevel::Info: log_->info(text); break;
    case LogLevel::Warn: log_->warn(text); break;
    case LogLevel::Error: log_->error(text); break;
  }
}

LogProgress::LogProgress(std::shared_ptr<HostLog> log)
    : log_(std::move(log)), terminal_(::isatty(STDERR_FILENO) == 1) {}

void LogProgress::begin(const std::string& stage, std::int64_t total) {
  stage_ = stage;
  total_ = total;
  done_ = 0;
  last_logged_ = -1;
  started_ = std::chrono::steady_clock::now();
}

void LogProgress::advance(std::int64_t done) {
  done_ += done;
  const std::int64_t percent = total_ > 0 ? 100 * done_ / total_ : 0;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  const long long eta = rate > 0 ? static_cast<long long>((total_ - done_) / rate + 0.5) : 0;
  char speed[64];
  std::snprintf(speed, sizeof speed, "%.1f/s, ETA %lld:%02lld", rate, eta / 60, eta % 60);
  if (terminal_) {
    // \033[K clears what a longer previous line left.
    std::fprintf(stderr, "\r%s: %lld/%lld (%lld%%) %s\033[K", stage_.c_str(), static_cast<long long>(done_),
                 static_cast<long long>(total_), static_cast<long long>(percent), speed);
    std::fflush(stderr);
  } else if (percent / 10 != last_logged_ / 10) {
    last_logged_ = percent;
    log_->info("{}: {}/{} ({}%) {}", stage_, done_, total_, percent, speed);
  }
}

void LogProgress::end() {
  if (terminal_ && total_ > 0) std::fprintf(stderr, "\n");
}

HostContext::HostContext(ContextSettings settings, std::shared_ptr<HostLog> log, std::string plugin_prefix)
    : settings_(std::move(settings)), logger_(log, std::move(plugin_prefix)), progress_(log) {}

std::filesystem::path HostContext::cache_dir() const {
  auto dir = settings_.cache_dir.empty() ? default_cache_dir() : settings_.cache_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return dir;
}

int HostContext::threads() const {
  if (settings_.threads > 0) return settings_.threads;
  // threads = 0: OMP_NUM_THREADS when it is set, as LibTorch reads it, so that processes
  // run side by side (ctest -j) can share the cores without oversubscribing them.
  if (const char* text = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(text, &end, 10);
    if (end != text && *end == '\0' && n >= 1 && n <= 1024) return static_cast<int>(n);
  }
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

void apply_compute_settings(const HostContext& ctx, CudaMath math) {
  torch::set_num_threads(ctx.threads());
  set_cuda_math(math);
}

}  // namespace medadv::host
