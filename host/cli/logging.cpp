#include "cli/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "medadv/error.h"

namespace medadv::host {

namespace {
std::shared_ptr<spdlog::logger>& current() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}
}  // namespace

std::shared_ptr<spdlog::logger> make_host_logger(const LogSettings& settings) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_pattern("%^%l%$: %v");
  console->set_level(settings.verbosity < 0   ? spdlog::level::err
                     : settings.verbosity > 0 ? spdlog::level::debug
                                              : spdlog::level::info);
  std::vector<spdlog::sink_ptr> sinks{console};
  if (!settings.file.empty()) {
    try {
      auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(settings.file);
      file->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
      file->set_level(spdlog::level::debug);
      sinks.push_back(file);
    } catch (const spdlog::spdlog_ex& e) {
      throw InvalidInput("--log-file " + settings.file + ": " + e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>("medadv", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::debug);
  logger->flush_on(spdlog::level::info);
  return logger;
}

std::shared_ptr<spdlog::logger> host_log() {
  if (!current()) current() = make_host_logger({});
  return current();
}

void set_host_log(std::shared_ptr<spdlog::logger> logger) { current() = std::move(logger); }

SpdlogLogger::SpdlogLogger(std::shared_ptr<spdlog::logger> logger, std::string prefix)
    : logger_(std::move(logger)), prefix_(std::move(prefix)) {}

void SpdlogLogger::log(LogLevel level, const std::string& message) {
  const std::string text = prefix_.empty() ? message : prefix_ + ": " + message;
  switch (level) {
    case LogLevel::Debug: logger_->debug(text); break;
    case LogLevel::Info: logger_->info(text); break;
    case LogLevel::Warn: logger_->warn(text); break;
    case LogLevel::Error: logger_->error(text); break;
  }
}

}  // namespace medadv::host
