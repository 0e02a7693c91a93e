#include "common/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace medadv::host {

namespace {
std::shared_ptr<HostLog>& current() {
  static std::shared_ptr<HostLog> logger;
  return logger;
}

std::shared_ptr<spdlog::sinks::sink> file_sink(const std::filesystem::path& file) {
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string());
    sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
    sink->set_level(spdlog::level::debug);
    return sink;
  } catch (const spdlog::spdlog_ex& e) {
    throw LogFileError(e.what());
  }
}
}  // namespace

struct HostLog::Impl {
  std::shared_ptr<spdlog::logger> logger;
};

HostLog::HostLog(const LogSettings& settings) : impl_(std::make_unique<Impl>()) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_pattern("%^%l%$: %v");
  console->set_level(settings.verbosity < 0   ? spdlog::level::err
                     : settings.verbosity > 0 ? spdlog::level::debug
                                              : spdlog::level::info);
  std::vector<spdlog::sink_ptr> sinks{console};
  if (!settings.file.empty()) sinks.push_back(file_sink(settings.file));
  impl_->logger = std::make_shared<spdlog::logger>("medadv", sinks.begin(), sinks.end());
  impl_->logger->set_level(spdlog::level::debug);
  impl_->logger->flush_on(spdlog::level::info);
}

HostLog::~HostLog() = default;

void HostLog::write(Level level, const std::string& message) {
  switch (level) {
    case Level::Debug: impl_->logger->debug(message); break;
    case Level::Info: impl_->logger->info(message); break;
    case Level::Warn: impl_->logger->warn(message); break;
    case Level::Error: impl_->logger->error(message); break;
  }
}

std::shared_ptr<void> HostLog::tee_to(const std::filesystem::path& file) {
  auto sink = file_sink(file);
  impl_->logger->sinks().push_back(sink);
  // The handle keeps the logger alive as long as it may touch its sinks.
  return std::shared_ptr<void>(nullptr, [logger = impl_->logger, sink](void*) {
    auto& sinks = logger->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
  });
}

std::shared_ptr<HostLog> host_log() {
  if (!current()) current() = std::make_shared<HostLog>(LogSettings{});
  return current();
}

void set_host_log(std::shared_ptr<HostLog> logger) { current() = std::move(logger); }

}  // namespace medadv::host
