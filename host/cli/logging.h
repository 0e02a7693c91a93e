#pragma once
// spdlog set-up for the host, and the medadv::Logger that plugins log through.
#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "medadv/context.h"

namespace medadv::host {

struct LogSettings {
  int verbosity = 0;  // -1 quiet, 0 normal, 1 verbose (debug)
  std::string file;   // also log here when set
};

// The process's host logger (stderr, plus a file when asked).
std::shared_ptr<spdlog::logger> make_host_logger(const LogSettings& settings);
std::shared_ptr<spdlog::logger> host_log();
void set_host_log(std::shared_ptr<spdlog::logger> logger);

class SpdlogLogger : public Logger {
 public:
  SpdlogLogger(std::shared_ptr<spdlog::logger> logger, std::string prefix = "");
  void log(LogLevel level, const std::string& message) override;

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::string prefix_;
};

}  // namespace medadv::host
