#pragma once
// Helpers for testing plugins (the SDK's own tests, `medadv plugins check` and the
// test that `medadv new` writes): a CPU run context and a tiny classifier with taps.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "medadv/context.h"
#include "medadv/dataset.h"
#include "medadv/export.h"
#include "medadv/model.h"

namespace medadv::testing {

// Logs to stderr (Info and above unless verbose), progress is silent, the cache is a
// fresh temporary directory. The device is $MEDADV_TEST_DEVICE (e.g. "cuda"), else CPU,
// unless the context is pinned to one: oracle tests whose models and hand computations
// are CPU tensors pin it to the CPU, so that they check the same thing on a GPU machine.
// Constructing one sets CudaMath::Reproducible (medadv/device.h) for the process.
class MEDADV_API TestContext : public RunContext {
 public:
  explicit TestContext(std::uint64_t seed = 0, bool verbose = false);
  explicit TestContext(torch::Device pinned, std::uint64_t seed = 0, bool verbose = false);
  ~TestContext() override;
  torch::Device device() const override;
  std::uint64_t seed() const override;
  Logger& log() override;
  Progress& progress() override;
  std::filesystem::path cache_dir() const override;
  int threads() const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The ModelSpec a model plugin is built with in a test: `channels` input channels,
// `classes` outputs, `size` px images, for `task` (the spec's other fields at their
// defaults).
inline ModelSpec model_spec(std::int64_t channels, std::int64_t classes, std::int64_t size,
                            Task task = Task::Classification) {
  ModelSpec s;
  s.channels = channels;
  s.num_classes = classes;
  s.image_size = size;
  s.task = task;
  return s;
}

// conv(C->8) relu pool, conv(8->16) relu pool, global average, linear(16->K).
// Taps: block1, block2, penultimate, logits. Deterministic for a seed.
class MEDADV_API TinyClassifier : public TappedModule {
 public:
  TinyClassifier(std::int64_t channels, std::int64_t num_classes, std::uint64_t seed = 0);
  std::vector<std::string> tap_names() const override;
  ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override;

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

// A random batch in [0,1], [n, channels, size, size], deterministic for a seed.
MEDADV_API torch::Tensor random_images(std::int64_t n, std::int64_t channels, std::int64_t size,
                                       std::uint64_t seed = 0);

// Every item of in-memory tensors as a sample set: images [N,C,H,W], and `targets`,
// labels [N] (classification) or masks [N,1,H,W] (segmentation).
MEDADV_API SampleSet sample_set(const torch::Tensor& images, const torch::Tensor& targets,
                                Task task = Task::Classification);

// Every item of a source in memory, images and masks as float (labels, meta and
// predefined splits as the source has them): for tests of small data sets.
MEDADV_API DatasetContents read_all(const std::shared_ptr<DataSource>& source);

}  // namespace medadv::testing
