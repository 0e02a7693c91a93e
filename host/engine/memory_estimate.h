#pragma once
// What a run will hold in memory at its peak, from the data set's size and shape and the
// splits, before any image is read: `medadv run --dry-run` prints it and a run that would
// not fit is refused with the figure and the keys to change (docs/decisions.md, "Data sets
// are sources").
#include <cstdint>
#include <map>
#include <string>

#include "medadv/dataset.h"

namespace medadv::host {

struct MemoryEstimate {
  std::int64_t data_cache = 0;       // the items the held source keeps as stored (0: read on demand)
  std::int64_t attacked_splits = 0;  // adv_train's and adv_test's labels and masks (their images stay in the source)
  std::int64_t trial_outputs = 0;    // the adversarial images kept in memory, and a detector's fit samples
  std::int64_t batches = 0;          // the images of a batch and their activations, a few batches alive
  std::int64_t runtime = 0;          // LibTorch, the model and its workspace: a constant
  std::int64_t available = 0;        // memory available at the estimate (0: unknown)

  std::int64_t total() const { return data_cache + attacked_splits + trial_outputs + batches + runtime; }
  std::string describe() const;  // one line: the total and its parts
};

// `detectors`: whether a detector is fitted (it takes its adv_train samples at once, clean
// and adversarial).
MemoryEstimate estimate_memory(const DataSource& source, const std::map<std::string, torch::Tensor>& splits,
                               std::int64_t batch_size, bool detectors, std::int64_t available);

// InvalidInput with the estimate and the keys that lower it when it exceeds what is
// available; nothing when the available memory is unknown.
void require_memory(const MemoryEstimate& estimate);

}  // namespace medadv::host
