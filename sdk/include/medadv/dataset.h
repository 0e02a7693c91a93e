#pragma once
// Dataset plugins offer an indexable source of images with labels or masks: the host asks
// for the items it needs, a batch at a time, and nothing ever holds the whole set as float
// (docs/decisions.md, "Data sets are sources").
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/context.h"
#include "medadv/export.h"
#include "medadv/model.h"

namespace medadv {

struct MEDADV_API DatasetMeta {
  Task task = Task::Classification;
  std::vector<std::string> class_names;
  std::string modality;  // "fundus", "x-ray", "dermoscopy", ...
};

// Items as a source stores them.
struct MEDADV_API StoredItems {
  // [B,C,H,W]: uint8 (0..255), int16 holding uint16 (0..65535, as read by stored_to_float)
  // or float32 in [0,1].
  torch::Tensor images;
  torch::Tensor masks;  // [B,1,H,W] uint8 or float32, 0/1; undefined when the source has none
};

// N items of one shape. The host reads every label once (to split) and then the items it
// needs, in batches; calls come from one host thread at a time, not necessarily the thread
// that opened the source.
class MEDADV_API DataSource {
 public:
  virtual ~DataSource();
  virtual std::int64_t size() const = 0;
  virtual const DatasetMeta& meta() const = 0;
  virtual std::vector<std::int64_t> item_shape() const = 0;  // {C,H,W}
  virtual torch::ScalarType stored_dtype() const = 0;        // of StoredItems::images
  virtual bool has_masks() const = 0;
  // [N] int64 class indices (classification); undefined for segmentation. Cheap: a source
  // that decodes or renders its images knows its labels without doing so.
  virtual torch::Tensor labels() const = 0;
  // Splits the data set defines itself (e.g. MedMNIST's train/val/test), as index tensors;
  // empty (the default) when the host should split by seed.
  virtual std::map<std::string, torch::Tensor> predefined_splits() const;
  // The items at `indices` (int64 [B], any order, repeats allowed), in that order, on the CPU.
  virtual StoredItems read(const torch::Tensor& indices) = 0;
  // Whether reading an item costs more than copying its stored bytes (drawing a phantom,
  // decoding a file): the host then keeps the items it has read when the whole set fits a
  // quarter of the memory available. Sources that read stored bytes from memory or from a
  // file of their own say false, and the host never holds a second copy of them.
  virtual bool expensive_reads() const;
};

// Bytes one item takes as stored (image and mask).
MEDADV_API std::int64_t stored_bytes_per_item(const DataSource& source);

// The one conversion from stored pixels to float images in [0,1] on `device`: uint8 / 255,
// uint16 (in int16) / 65535, float as it is. Converts on the device after the copy, so the
// copy moves the stored bytes.
MEDADV_API torch::Tensor stored_to_float(const torch::Tensor& stored, const torch::Device& device);

// A whole data set in memory: what tensor_source() serves.
struct MEDADV_API DatasetContents {
  torch::Tensor images;  // [N,C,H,W] uint8, int16 (uint16 pixels) or float32 in [0,1]
  torch::Tensor labels;  // [N] int64 (classification)
  torch::Tensor masks;   // [N,1,H,W] uint8 or float32 0/1 (segmentation; lesion masks where available)
  DatasetMeta meta;
  std::map<std::string, torch::Tensor> predefined_splits;
};

// A source over tensors already in memory (small sets, tests, plugins that must hold their
// data). Checks the shapes: InvalidInput naming what is wrong.
MEDADV_API std::shared_ptr<DataSource> tensor_source(DatasetContents contents);

class MEDADV_API Dataset {
 public:
  virtual ~Dataset();
  // Opens the source: reads what is needed to know the items (a listing, a header, the
  // labels), not the images.
  virtual std::shared_ptr<DataSource> open(RunContext& ctx) = 0;
};

// A batch ready for a model: images float in [0,1], labels int64 [B] (classification),
// masks float 0/1 [B,1,H,W] (when the source has them), all on one device.
struct MEDADV_API Batch {
  torch::Tensor images, labels, masks;
  std::int64_t size() const { return images.defined() ? images.size(0) : 0; }
  // What a loss compares with: the labels (classification) or the masks (segmentation).
  const torch::Tensor& targets(Task task) const { return task == Task::Segmentation ? masks : labels; }
};

// Some of a source's items (a split), read in batches. Copies share the source.
class MEDADV_API SampleSet {
 public:
  SampleSet() = default;
  SampleSet(std::shared_ptr<DataSource> source, torch::Tensor indices);  // indices into the source

  std::int64_t size() const { return indices_.defined() ? indices_.numel() : 0; }
  bool empty() const { return size() == 0; }
  Task task() const;
  const torch::Tensor& indices() const { return indices_; }
  const std::shared_ptr<DataSource>& source() const { return source_; }
  // [n] int64 (classification), undefined otherwise; no image is read.
  torch::Tensor labels() const;
  // Items at positions [begin, end) of this set, or at `positions`, converted on `device`.
  Batch slice(std::int64_t begin, std::int64_t end, const torch::Device& device) const;
  Batch gather(const torch::Tensor& positions, const torch::Device& device) const;
  // The items at `positions` of this set as a set of their own.
  SampleSet subset(const torch::Tensor& positions) const;
  // All of it, as one batch: only for sets known to be small.
  Batch all(const torch::Device& device) const { return slice(0, size(), device); }

 private:
  std::shared_ptr<DataSource> source_;
  torch::Tensor indices_;  // int64 [n] on the CPU
};

}  // namespace medadv
