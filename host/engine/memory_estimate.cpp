#include "engine/memory_estimate.h"

#include <algorithm>
#include <cstdio>

#include "engine/held_source.h"
#include "engine/image_store.h"
#include "medadv/error.h"
#include "medadv/splits.h"

namespace medadv::host {

namespace {

// Calibrated on the quickstart (bench/RESULTS.md, "Issue 25"): `medadv plugins list` is
// 170 MB resident (LibTorch and the plugins loaded); the quickstart peaks at 690 MB, of
// which its data are 40 MB.
constexpr std::int64_t kRuntimeBytes = std::int64_t{256} << 20;
// A batch's activations, forward and backward, per byte of its float images (the rest of
// the quickstart's peak: small-cnn's 32-channel feature maps at full resolution and their
// gradients, kept by the SDK's allocator settings); up to three batches alive at once (the
// one computed, the one read, the adversarial one).
constexpr std::int64_t kActivationsPerInputByte = 48;

std::string gib(std::int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / static_cast<double>(std::int64_t{1} << 30));
  return text;
}

}  // namespace

MemoryEstimate estimate_memory(const DataSource& source, const std::map<std::string, torch::Tensor>& splits,
                               std::int64_t batch_size, bool detectors, std::int64_t available) {
  const auto shape = source.item_shape();
  std::int64_t pixels = 1;
  for (auto d : shape) pixels *= d;
  const std::int64_t float_image = pixels * 4;
  const std::int64_t per_sample = source.has_masks() ? shape[1] * shape[2] : 8;  // an 8-bit mask, or a label
  const std::int64_t adv_train = splits.at(kAdvTrainSplit).numel(), adv_test = splits.at(kAdvTestSplit).numel();

  MemoryEstimate m;
  m.available = available;
  m.data_cache = cached_bytes(source, available);
  m.attacked_splits = (adv_train + adv_test) * per_sample;
  // An attack's outcomes on both splits are alive together (the detectors read both).
  const std::int64_t kept = image_store_memory_bytes(available);
  m.trial_outputs = std::min(adv_train * float_image, kept) + std::min(adv_test * float_image, kept) +
                    (detectors ? 2 * adv_train * float_image : 0);
  m.batches = 3 * batch_size * float_image * kActivationsPerInputByte;
  m.runtime = kRuntimeBytes;
  return m;
}

std::string MemoryEstimate::describe() const {
  return "estimated peak memory " + gib(total()) + " (data cache " + gib(data_cache) + ", attacked splits " +
         gib(attacked_splits) + ", adversarial images " + gib(trial_outputs) + ", batches " + gib(batches) +
         ", runtime " + gib(runtime) + ")" + (available > 0 ? "; " + gib(available) + " available" : "");
}

void require_memory(const MemoryEstimate& estimate) {
  if (estimate.available <= 0 || estimate.total() <= estimate.available) return;
  throw InvalidInput("the run would not fit in memory: " + estimate.describe() +
                     "; lower dataset.count or dataset.image_size, the adv_train and adv_test shares of "
                     "dataset.splits, or experiment.batch_size");
}

}  // namespace medadv::host
