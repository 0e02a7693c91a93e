#pragma once
// The keys of an [[attack]] table that belong to the host, not the attack plugin:
// what the attack optimises (ARCHITECTURE.md section 5). Targeted/untargeted and the
// base loss are properties of the objective, so every attack gets them for free.
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "medadv/objective.h"
#include "medadv/params.h"
#include "medadv/value.h"

namespace medadv::host {

// The splits an `add` term may fit on (its `fit_split` key): "train" (the default) or
// "adv_train".
bool is_term_fit_split(const std::string& split);

// targeted, target, loss, kappa: typed, defaulted, documented like a plugin's schema.
ParamSchema attack_objective_schema();

// bpda, eot: how the attack meets a defended variant (ARCHITECTURE.md section 4). Typed,
// defaulted, documented like a plugin's schema.
ParamSchema attack_defense_schema();

// The keys of `[attack.surrogate]` that are not the surrogate model's (ARCHITECTURE.md
// section 4, gray-box and no-box): where it is trained (`split`) and with which seed.
// Its other keys are a [model] table's: plugin, its parameters, train, checkpoint.
ParamSchema surrogate_schema();
inline constexpr const char* kSurrogateTrainSplit = "train";
inline constexpr const char* kSurrogateDisjointSplit = "disjoint";

// How targets are chosen for a targeted attack. Classification: a class per sample by a
// rule; segmentation: one target mask for every sample.
struct TargetChoice {
  enum class Rule {
    Random, LeastLikely, Next, Fixed,  // classification
    Empty, Full, MaskFile              // segmentation
  } rule = Rule::Random;
  std::int64_t fixed_class = 0;
  std::string mask_file;  // MaskFile: the PNG, absolute once the experiment is validated
};

// True for the rules whose targets are masks (empty, full, a mask file).
bool is_segmentation_target(const TargetChoice& t);
// How the experiment writes it: "random", "3", "empty", "/abs/path/mask.png", ...
std::string target_text(const TargetChoice& t);

struct ObjectiveSpec {
  bool targeted = false;
  TargetChoice target;
  BaseLoss loss = BaseLoss::CrossEntropy;
  double kappa = 0.0;
};

// From the resolved attack_objective_schema() parameters. Throws InvalidInput for a
// target that is neither a rule, a class index nor a mask file.
ObjectiveSpec objective_spec_from(const Params& p);

// Classification: "random" | "least-likely" | "next" | "<class index>"; segmentation:
// "empty" | "full" | "<file>.png" (a path as written, not resolved).
TargetChoice parse_target(const std::string& text);

// The `target` value as the engine uses it: checked with parse_target, and a mask file
// made absolute against the directory of the experiment file it was written in (the
// current directory for a --set override) and read once to prove it is a readable image.
// Keeps `target`'s location. Throws InvalidInput saying what is wrong.
Value resolve_target(const Value& target);

// The target mask of a mask file for images of height x width: read as gray, resized
// (bilinear) when its size differs, foreground where the gray level is above 0.5;
// [1,1,H,W] float 0/1 on the CPU. Throws InvalidInput naming the file.
torch::Tensor target_mask_from_file(const std::string& file, std::int64_t height, std::int64_t width);

}  // namespace medadv::host
