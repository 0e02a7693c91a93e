#include "medadv/testing.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cmath>
#include <iostream>
#include <optional>

#include "medadv/device.h"
#include "medadv/error.h"
#include "medadv/model_parts.h"
#include "medadv/torch_compat.h"

namespace medadv::testing {

namespace {
class StderrLogger : public Logger {
 public:
  explicit StderrLogger(bool verbose) : verbose_(verbose) {}
  void log(LogLevel level, const std::string& message) override {
    if (level == LogLevel::Debug && !verbose_) return;
    static const char* names[] = {"debug", "info", "warn", "error"};
    std::cerr << "[" << names[static_cast<int>(level)] << "] " << message << "\n";
  }

 private:
  bool verbose_;
};

class SilentProgress : public Progress {
 public:
  void begin(const std::string&, std::int64_t) override {}
  void advance(std::int64_t) override {}
  void end() override {}
};
}  // namespace

struct TestContext::State {
  std::uint64_t seed;
  StderrLogger logger;
  SilentProgress progress;
  std::filesystem::path cache;
  std::optional<torch::Device> pinned;
};

TestContext::TestContext(torch::Device pinned, std::uint64_t seed, bool verbose) : TestContext(seed, verbose) {
  state_->pinned = pinned;
}

TestContext::TestContext(std::uint64_t seed, bool verbose)
    : state_(std::make_unique<State>(State{seed, StderrLogger(verbose), SilentProgress(), {}, std::nullopt})) {
  static std::atomic<int> counter{0};
  state_->cache = std::filesystem::temp_directory_path() /
                  ("medadv-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(state_->cache);
  // The tests' thresholds and oracles hold for the CPU's arithmetic; on CUDA only this mode
  // repeats it to float rounding.
  set_cuda_math(CudaMath::Reproducible);
}
TestContext::~TestContext() {
  std::error_code ec;
  std::filesystem::remove_all(state_->cache, ec);
}
torch::Device TestContext::device() const {
  if (state_->pinned) return *state_->pinned;
  const char* wanted = std::getenv("MEDADV_TEST_DEVICE");
  return resolve_device(wanted && *wanted ? wanted : "cpu");
}
std::uint64_t TestContext::seed() const { return state_->seed; }
Logger& TestContext::log() { return state_->logger; }
Progress& TestContext::progress() { return state_->progress; }
std::filesystem::path TestContext::cache_dir() const { return state_->cache; }
int TestContext::threads() const { return 1; }

TinyClassifier::TinyClassifier(std::int64_t channels, std::int64_t num_classes, std::uint64_t seed) {
  conv1_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 8, 3).padding(1)));
  conv2_ = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 3).padding(1)));
  fc_ = register_module("fc", torch::nn::Linear(16, num_classes));
  // Re-draw every parameter from a local generator: deterministic for the seed without
  // touching the process-wide random state.
  auto gen = compat::cpu_generator(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : parameters()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(p.dim() > 1 ? p[0].numel() : p.numel()));
    p.copy_(torch::rand(p.sizes(), gen) * 2 * bound - bound);
  }
}

std::vector<std::string> TinyClassifier::tap_names() const { return {"block1", "block2", "penultimate", "logits"}; }

ModelOutput TinyClassifier::forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) {
  require_known_taps("TinyClassifier", taps, tap_names());
  ModelOutput out;
  auto want = [&](const char* name) { return std::find(taps.begin(), taps.end(), name) != taps.end(); };
  auto h1 = torch::max_pool2d(torch::relu(conv1_->forward(x * 2 - 1)), 2);
  if (want("block1")) out.taps["block1"] = h1;
  auto h2 = torch::max_pool2d(torch::relu(conv2_->forward(h1)), 2);
  if (want("block2")) out.taps["block2"] = h2;
  auto pooled = h2.mean({2, 3});
  if (want("penultimate")) out.taps["penultimate"] = pooled;
  out.logits = fc_->forward(pooled);
  if (want("logits")) out.taps["logits"] = out.logits;
  return out;
}

torch::Tensor random_images(std::int64_t n, std::int64_t channels, std::int64_t size, std::uint64_t seed) {
  auto gen = compat::cpu_generator(seed);
  return torch::rand({n, channels, size, size}, gen);
}

SampleSet sample_set(const torch::Tensor& images, const torch::Tensor& targets, Task task) {
  DatasetContents contents;
  contents.images = images;
  contents.meta.task = task;
  (task == Task::Segmentation ? contents.masks : contents.labels) = targets;
  const auto n = images.size(0);
  return SampleSet(tensor_source(std::move(contents)), torch::arange(n));
}

DatasetContents read_all(const std::shared_ptr<DataSource>& source) {
  const Batch batch = SampleSet(source, torch::arange(source->size())).all(torch::kCPU);
  DatasetContents out;
  out.images = batch.images;
  out.labels = source->labels();
  out.masks = batch.masks;
  out.meta = source->meta();
  out.predefined_splits = source->predefined_splits();
  return out;
}

}  // namespace medadv::testing
