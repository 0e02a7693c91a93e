#pragma once
// A split of images read a batch at a time: what attack terms fit on and summarise
// (AttackTerm::fit, AttackTerm::summarize) and features::pooled_features reads, so that
// no one holds a split whole (issue 25). The host hands its data set's splits and its
// stored adversarial images through it; tensor_batches() wraps images already in memory.
#include <cstdint>
#include <memory>

#include <torch/torch.h>

#include "medadv/export.h"

namespace medadv {

class MEDADV_API ImageBatches {
 public:
  virtual ~ImageBatches();
  virtual std::int64_t size() const = 0;
  // Rows [begin, end) (0 <= begin <= end <= size()) as float images [B,C,H,W] in [0,1] on
  // `device`.
  virtual torch::Tensor images(std::int64_t begin, std::int64_t end, c10::Device device) const = 0;
  // One label per row on the CPU: class indices [N] int64, or masks [N,1,H,W] for
  // segmentation; undefined when the split has none.
  virtual torch::Tensor labels() const = 0;
};

// `images` [N,C,H,W] (any device; integer images converted to float per batch) and their
// `labels` (see ImageBatches::labels; moved to the CPU) as ImageBatches. Throws
// InvalidInput for a tensor of fewer than two dimensions or labels of another length.
MEDADV_API std::unique_ptr<ImageBatches> tensor_batches(torch::Tensor images, torch::Tensor labels = {});

}  // namespace medadv
