#pragma once
// A split of images read a batch at a time: what attack terms fit on and summarise
// (AttackTerm::fit, AttackTerm::summarize), detectors fit on (DetectorFitData), universal
// attacks fit on (UniversalAttack::fit) and features::pooled_features reads, so that no
// one holds a split whole (issue 25). The host hands its data set's splits and its stored
// adversarial images through it; tensor_batches() wraps images already in memory.
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
  // The rows at `index` (int64 [B], any order, repeats allowed) as images() gives them.
  // The default reads each run of consecutive rows with images(); override it where the
  // storage gathers directly.
  virtual torch::Tensor rows(const torch::Tensor& index, c10::Device device) const;
  // One label per row on the CPU: class indices [N] int64, or masks [N,1,H,W] for
  // segmentation (uint8 0/1 from the host: convert a batch's rows to float where a loss
  // takes them); undefined when the split has none.
  virtual torch::Tensor labels() const = 0;
};

// `images` [N,C,H,W] (any device; integer images converted to float per batch) and their
// `labels` (see ImageBatches::labels; moved to the CPU) as ImageBatches. Throws
// InvalidInput for a tensor of fewer than two dimensions or labels of another length.
MEDADV_API std::unique_ptr<ImageBatches> tensor_batches(torch::Tensor images, torch::Tensor labels = {});

// The rows of `base` at `index` (int64 [M]) as ImageBatches of size M, labels included;
// it reads through `base` (which it keeps alive) a batch at a time. Throws InvalidInput for
// an index outside [0, base->size()).
MEDADV_API std::unique_ptr<ImageBatches> rows_of(std::shared_ptr<const ImageBatches> base, torch::Tensor index);

}  // namespace medadv
