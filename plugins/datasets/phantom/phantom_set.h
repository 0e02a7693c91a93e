#pragma once
// A phantom data set as a source: image i is drawn on demand by a CPU generator seeded by
// derive_seed(ctx.seed_for(name), "image/<i>"), so it depends only on the seed and i
// (never on `count`, on which images are read together, or on the thread that draws it),
// and a set of any count costs no memory until its images are read.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include "medadv/context.h"
#include "medadv/dataset.h"
#include "medadv/model.h"
#include "medadv/params.h"

namespace medadv::plugins::phantom {

// One drawn image: [C,S,S] in [0,1], its mask [1,S,S] (0/1) and its label.
struct PhantomSample {
  torch::Tensor image;
  torch::Tensor mask;
  std::int64_t label = 0;
};

// How a phantom draws image i from its generator. `label` makes only the first draws of
// `draw` (the case: a grade, a lesion, a finding) and returns the label those give, so the
// host learns every label without drawing an image. Both are called from several threads
// at once and outlive the plugin instance: they capture what they use by value.
struct PhantomDrawing {
  std::function<std::int64_t(at::Generator&)> label;
  std::function<PhantomSample(at::Generator&)> draw;
};

struct PhantomSetShape {
  std::int64_t count = 0;
  std::int64_t channels = 1;
  std::int64_t size = 0;
};

// What a phantom data set offers the host: `shape.count` images with their masks
// (`modality` in the meta) and either their labels, named by `class_names`
// (classification), or, when `segmentation_target` names the masks' foreground, the masks
// as the target (classes "background" and that name, no labels). Draws every label now and
// logs how many images of each class there are.
std::shared_ptr<medadv::DataSource> phantom_source(medadv::RunContext& ctx, const std::string& name,
                                                   const PhantomSetShape& shape, const std::string& modality,
                                                   std::vector<std::string> class_names,
                                                   const std::optional<std::string>& segmentation_target,
                                                   PhantomDrawing drawing);

// The `task` parameter of a phantom that draws masks too: what the data set is for.
inline medadv::EnumNames<medadv::Task> task_names() {
  return {{medadv::task_name(medadv::Task::Classification), medadv::Task::Classification},
          {medadv::task_name(medadv::Task::Segmentation), medadv::Task::Segmentation}};
}

}  // namespace medadv::plugins::phantom
