#pragma once
// The host's logger: stderr, filtered by verbosity, plus files that get every line.
// Only cli/logging.cpp sees spdlog, and it is built apart from every LibTorch source
// (host/CMakeLists.txt): LibTorch 2.x ships {fmt} headers of its own, newer than the
// {fmt} that the system's spdlog was built with, and they shadow it.
#include <filesystem>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace medadv::host {

struct LogSettings {
  int verbosity = 0;  // -1 quiet, 0 normal, 1 verbose (debug)
  std::string file;   // also log here when set
};

// `format` with each "{}" replaced by the next argument, as an ostream prints it.
template <class... Args>
std::string format_message(std::string_view format, const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return std::string(format);
  } else {
    std::ostringstream out;
    std::size_t from = 0;
    auto put = [&](const auto& arg) {
      const std::size_t at = format.find("{}", from);
      if (at == std::string_view::npos) return;
      out << format.substr(from, at - from) << arg;
      from = at + 2;
    };
    (put(args), ...);
    out << format.substr(from);
    return out.str();
  }
}

// A log file that cannot be opened (the caller decides whether that is invalid input).
class LogFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HostLog {
 public:
  explicit HostLog(const LogSettings& settings);  // throws LogFileError
  ~HostLog();
  HostLog(const HostLog&) = delete;
  HostLog& operator=(const HostLog&) = delete;

  // Each "{}" in `format` is replaced by the next argument (format_message).
  template <class... Args>
  void debug(std::string_view format, const Args&... args) { write(Level::Debug, format_message(format, args...)); }
  template <class... Args>
  void info(std::string_view format, const Args&... args) { write(Level::Info, format_message(format, args...)); }
  template <class... Args>
  void warn(std::string_view format, const Args&... args) { write(Level::Warn, format_message(format, args...)); }
  template <class... Args>
  void error(std::string_view format, const Args&... args) { write(Level::Error, format_message(format, args...)); }

  // Every line, debug ones too, time-stamped, also goes to `file` until the handle is
  // destroyed. Throws LogFileError.
  [[nodiscard]] std::shared_ptr<void> tee_to(const std::filesystem::path& file);

 private:
  enum class Level { Debug, Info, Warn, Error };
  void write(Level level, const std::string& message);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The process's host logger (stderr only until set_host_log).
std::shared_ptr<HostLog> host_log();
void set_host_log(std::shared_ptr<HostLog> logger);

}  // namespace medadv::host
