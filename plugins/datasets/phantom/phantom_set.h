#pragma once
// Rendering a whole phantom data set: image i from its own generator, so it depends only
// on the seed and i (never on `count` or on the thread that renders it), the images
// spread over the intra-op threads, progress reported and a summary logged.
#include <cstdint>
#include <functional>
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

// One rendered image: [C,S,S] in [0,1], its mask [1,S,S] (0/1) and its label.
struct PhantomSample {
  torch::Tensor image;
  torch::Tensor mask;
  std::int64_t label = 0;
};

struct PhantomSet {
  torch::Tensor images;  // [N,C,S,S] float32
  torch::Tensor masks;   // [N,1,S,S] float32
  torch::Tensor labels;  // [N] int64
};

struct PhantomSetShape {
  std::int64_t count = 0;
  std::int64_t channels = 1;
  std::int64_t size = 0;
};

// Renders images 0..count-1; image i by `render` with a CPU generator seeded by
// derive_seed(ctx.seed_for(name), "image/<i>"). Reports progress as "dataset <name>" and
// logs how many images of each class (named by `class_names`, indexed by label) it made.
PhantomSet render_phantom_set(medadv::RunContext& ctx, const std::string& name, const PhantomSetShape& shape,
                              const std::vector<std::string>& class_names,
                              const std::function<PhantomSample(at::Generator&)>& render);

// What a phantom data set hands the host: its images and masks (`modality` in the meta)
// and either its labels, named by `class_names` (classification), or, when
// `segmentation_target` names the masks' foreground, the masks as the target (classes
// "background" and that name, no labels).
medadv::DatasetContents phantom_contents(PhantomSet set, const std::string& modality,
                                         std::vector<std::string> class_names,
                                         const std::optional<std::string>& segmentation_target);

// The `task` parameter of a phantom that draws masks too: what the data set is for.
inline medadv::EnumNames<medadv::Task> task_names() {
  return {{medadv::task_name(medadv::Task::Classification), medadv::Task::Classification},
          {medadv::task_name(medadv::Task::Segmentation), medadv::Task::Segmentation}};
}

}  // namespace medadv::plugins::phantom
