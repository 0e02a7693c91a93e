#pragma once
// What the host hands every plugin: the device, seeded randomness, a logger, progress
// reporting and a cache directory. An interface implemented by the host, so that the
// SDK stays independent of it and new services append at the end.
#include <cstdint>
#include <filesystem>
#include <string>

#include <c10/core/Device.h>

#include "medadv/export.h"

namespace medadv {

enum class LogLevel { Debug, Info, Warn, Error };

// Plugins log through this, never through a logging library's global registry.
class MEDADV_API Logger {
 public:
  virtual ~Logger();
  virtual void log(LogLevel level, const std::string& message) = 0;
  void debug(const std::string& m) { log(LogLevel::Debug, m); }
  void info(const std::string& m) { log(LogLevel::Info, m); }
  void warn(const std::string& m) { log(LogLevel::Warn, m); }
  void error(const std::string& m) { log(LogLevel::Error, m); }
};

// Progress of one stage (e.g. "attack pgd"): total units, then advances.
class MEDADV_API Progress {
 public:
  virtual ~Progress();
  virtual void begin(const std::string& stage, std::int64_t total) = 0;
  virtual void advance(std::int64_t done = 1) = 0;
  virtual void end() = 0;
};

// Lifetime: the context a plugin's constructor receives, and everything reached through
// it (log(), progress()), lives as long as the instance made with it; the host destroys the
// instance first. A plugin may keep a reference or pointer to it in a member. The context a
// method receives (fit, run, train, load) lives for that call only: keep nothing from it.
// What a plugin returns (a module, a tensor) must not refer to either after the instance
// is gone (docs/decisions.md, "Plugin ABI": what a plugin may keep from its context).
class MEDADV_API RunContext {
 public:
  virtual ~RunContext();
  virtual c10::Device device() const = 0;
  virtual std::uint64_t seed() const = 0;
  virtual Logger& log() = 0;
  virtual Progress& progress() = 0;
  // A directory the plugin may keep derived data in (decoded datasets, fitted state).
  virtual std::filesystem::path cache_dir() const = 0;
  virtual int threads() const = 0;

  // A seed derived from the run's seed and a purpose string, so that independent
  // random streams (e.g. "pgd/random-start") do not depend on call order.
  std::uint64_t seed_for(const std::string& purpose) const;
};

// 64-bit FNV-1a then splitmix64 of (seed, purpose): stable across platforms.
MEDADV_API std::uint64_t derive_seed(std::uint64_t seed, const std::string& purpose);

}  // namespace medadv
