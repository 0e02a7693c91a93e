#pragma once
// What the benchmark executables share: their --threads, --device and --seed options and a
// run context built from them (log lines to stderr, no progress display), plugin parameters
// resolved from a schema as the host resolves them, a wall clock, and main()'s command
// line handling.
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <utility>

#include <boost/program_options.hpp>
#include <torch/torch.h>

#include <medadv/context.h>
#include <medadv/device.h>
#include <medadv/error.h>
#include <medadv/params.h>

namespace medadv::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline Params resolve(void (*schema)(ParamSchema&), Value::Table values, const std::string& name) {
  ParamSchema s;
  schema(s);
  return s.resolve_or_throw(Value(std::move(values)), name);
}

// Where a benchmark runs and what it draws from: the options every benchmark takes.
struct RunSettings {
  int threads = 2;
  std::string device = "cpu";
  std::uint64_t seed = 0;

  // Adds --threads, --device and --seed; `seed_help` says what the seed draws.
  void declare(boost::program_options::options_description& options, const char* seed_help) {
    namespace po = boost::program_options;
    options.add_options()("threads", po::value(&threads)->default_value(threads),
                          "intra-op threads (torch::set_num_threads)")(
        "device", po::value(&device)->default_value(device), "cpu, cuda, cuda:N or auto")(
        "seed", po::value(&seed)->default_value(seed), seed_help);
  }
};

class BenchContext : public RunContext {
 public:
  // Sets LibTorch's intra-op threads and resolves the device (medadv::resolve_device).
  explicit BenchContext(const RunSettings& run)
      : device_(resolve_device(run.device)), seed_(run.seed), threads_(run.threads) {
    torch::set_num_threads(run.threads);
  }
  c10::Device device() const override { return device_; }
  std::uint64_t seed() const override { return seed_; }
  Logger& log() override { return logger_; }
  Progress& progress() override { return progress_; }
  std::filesystem::path cache_dir() const override {
    return std::filesystem::temp_directory_path() / "medadv-bench-cache";
  }
  int threads() const override { return threads_; }

 private:
  class StderrLogger : public Logger {
   public:
    void log(LogLevel level, const std::string& message) override {
      if (level != LogLevel::Debug) std::cerr << "  [log] " << message << "\n";
    }
  };
  class SilentProgress : public Progress {
   public:
    void begin(const std::string&, std::int64_t) override {}
    void advance(std::int64_t) override {}
    void end() override {}
  };
  torch::Device device_;
  std::uint64_t seed_;
  int threads_;
  StderrLogger logger_;
  SilentProgress progress_;
};

// Parses the command line into `options` (--help prints them), then calls `run`. Exit
// status: what `run` returns; 2 for a bad option or an InvalidInput (bad settings), 1 for
// any other failure, each with `program` and the message on stderr.
inline int run_main(const std::string& program, const boost::program_options::options_description& options,
                    int argc, char** argv, const std::function<int()>& run) {
  namespace po = boost::program_options;
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help")) {
      std::cout << options << "\n";
      return 0;
    }
    po::notify(vm);
    return run();
  } catch (const po::error& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  } catch (const InvalidInput& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace medadv::bench
