#pragma once
// Dataset plugins supply images in [0,1] with labels or masks.
#include <map>
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

struct MEDADV_API DatasetContents {
  torch::Tensor images;  // [N,C,H,W] float in [0,1]
  torch::Tensor labels;  // [N] int64 (classification)
  torch::Tensor masks;   // [N,1,H,W] float32 0/1 (segmentation; lesion masks where available)
  DatasetMeta meta;
  // Splits the data set defines itself (e.g. MedMNIST's train/val/test), as index
  // tensors; empty when the host should split by seed.
  std::map<std::string, torch::Tensor> predefined_splits;
};

class MEDADV_API Dataset {
 public:
  virtual ~Dataset();
  virtual DatasetContents load(RunContext& ctx) = 0;
};

}  // namespace medadv
