#pragma once
// Runs one attack over one split in batches on the run's device and keeps everything the
// metrics, the detectors and the exports need.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/image_store.h"
#include "experiment/plan.h"
#include "loader/plugin_library.h"
#include "medadv/attack.h"
#include "medadv/attack_term.h"
#include "medadv/dataset.h"

namespace medadv::host {

// One attacked split of the data set: its images read from the source a batch at a time
// (never held whole), its labels and masks on the CPU.
struct SplitData {
  SampleSet samples;
  torch::Tensor labels;  // [N] int64 (classification)
  torch::Tensor masks;   // [N,1,H,W] uint8 0/1 (segmentation): a quarter of float's bytes; else undefined
  std::int64_t size() const { return samples.size(); }
  // The images of rows [begin, end), or at `rows`, float in [0,1] on `device`.
  torch::Tensor images(std::int64_t begin, std::int64_t end, c10::Device device) const;
  torch::Tensor images_at(const torch::Tensor& rows, c10::Device device) const;
};

// Everything on the CPU, one row per sample of the split.
struct AttackOutcome {
  std::shared_ptr<const ImageStore> adversarial;  // [N,C,H,W]
  // Classification: class indices [N] int64. Segmentation: label maps [N,1,H,W]
  // (metrics::label_map_from_logits; uint8 for up to 256 classes, else int64).
  torch::Tensor clean_prediction;
  torch::Tensor adversarial_prediction;
  // Classification: the probability of each adversarial prediction [N] float64
  // (metrics::predicted_class_probability); undefined for segmentation.
  torch::Tensor adversarial_probability;
  // When targeted: target classes [N] int64, or target masks [N,1,H,W] float 0/1
  // (segmentation); else undefined.
  torch::Tensor targets;
  torch::Tensor iterations;  // [N] int64
  torch::Tensor queries;     // [N] int64
  // The distances of each adversarial image from its clean one [N], computed batch by
  // batch on the run's device (metrics::linf_norm, l2_norm, l0_norm, psnr_per_sample,
  // ssim_per_sample).
  torch::Tensor linf, l2, l0, psnr, ssim;
  // Crafted on a surrogate: its predictions of the adversarial images (as
  // adversarial_prediction), to tell transfer from success on the surrogate; else undefined.
  torch::Tensor surrogate_prediction;
  std::string surrogate;  // what it was crafted on (PreparedSurrogate::description); empty: the scored model
  double seconds = 0.0;      // the attack's wall time (not the evaluation's)
  std::int64_t num_classes = 0;  // the attacked model's
  // What the attack's terms report about this split (AttackTerm::summarize), in term order.
  std::vector<std::pair<std::string, double>> term_figures;
};

// Predictions of `model` on the split's images, batched, on `device`; [N] int64 on the CPU.
torch::Tensor predict(DifferentiableModel& model, const SplitData& split, std::int64_t batch_size, c10::Device device);

// Which samples of a classification split the attack succeeded on, by the metric its
// objective calls for (metrics::per_sample_success_targeted / _untargeted); [N] bool, CPU.
torch::Tensor attack_successes(const AttackPlan& attack, const SplitData& split, const AttackOutcome& outcome);

// What a batch's logits predict, on the CPU: class indices [B] int64 for classification
// logits [B,K]; label maps [B,1,H,W] for segmentation logits (see AttackOutcome).
torch::Tensor predictions_from_logits(const torch::Tensor& logits);

// What the attacks of a split are given as labels: class indices [N] (classification)
// or masks [N,1,H,W] uint8 0/1 (segmentation; a classification data set may carry masks
// too), whole, as the SDK's ImageBatches::labels() hands them.
const torch::Tensor& attack_labels(const SplitData& split, Task task);
// Rows [begin, end) of attack_labels on `device`, as an objective takes them: masks as
// float 0/1.
torch::Tensor attack_label_rows(const SplitData& split, Task task, std::int64_t begin, std::int64_t end,
                                c10::Device device);

// Target masks [N,1,H,W] float 0/1 for a segmentation target rule (empty, full, a mask
// file), shaped like `masks`. Throws InvalidInput for a classification rule.
torch::Tensor segmentation_targets(const TargetChoice& choice, const torch::Tensor& masks);

// Targets for a targeted attack, from the rule and the seed; [N] int64 on the CPU.
torch::Tensor choose_targets(const TargetChoice& choice, const torch::Tensor& labels,
                             const torch::Tensor& clean_logits_or_prediction, std::int64_t num_classes,
                             std::uint64_t seed);

struct AttackRunInputs {
  const AttackPlan* plan = nullptr;
  const PluginHandle* plugin = nullptr;
  std::shared_ptr<Attack> attack;
  std::vector<std::shared_ptr<AttackTerm>> terms;  // already fitted
  std::shared_ptr<DifferentiableModel> model;      // the variant under attack: what the outcome is scored on
  // What the attack and its terms are crafted on when it is not `model`: a surrogate
  // ([attack.surrogate]), which the attack's Capability then holds alone; the attack never
  // sees `model`. Null: `model` itself.
  std::shared_ptr<DifferentiableModel> surrogate;
  std::string surrogate_description;  // PreparedSurrogate::description, for the results
  // How the attack holds the surrogate: gray-box or no-box ([attack.surrogate]), or
  // white-box (the undefended victim of a `bpda = false` attack).
  ThreatModel surrogate_threat = ThreatModel::GrayBox;
  // The EOT view (ExpectationModel) of what the attack is crafted on, when that is
  // randomised and the attack says `eot = N` (N > 1); null otherwise.
  std::shared_ptr<DifferentiableModel> expectation;
  // What the attack's gradients and terms read: the EOT view, else the surrogate, else `model`.
  const std::shared_ptr<DifferentiableModel>& crafted_on() const {
    return expectation ? expectation : surrogate ? surrogate : model;
  }
  std::int64_t batch_size = 64;
  std::string stage;  // progress label, e.g. "[3/12] PGD 8/255 on adv_test"
  // Where adversarial images larger than `store_memory_bytes` are kept (the run directory).
  std::filesystem::path spill_dir;
  std::int64_t store_memory_bytes = image_store_memory_bytes(0);
};

// The objective of the plan with the fitted terms.
Objective make_objective(const AttackRunInputs& in);

// Refuses, with InvalidInput, a task the attack or its objective cannot handle: a
// classification loss (ce, cw, dlr) or target rule on a segmentation task and a
// segmentation loss (bce, iou, dice) or target on a classifier, loss = "none" without
// `add` terms, DLR with too few classes, and whatever the plugin's Attack::check_task
// refuses.
void check_attack_task(const AttackPlan& plan, const Attack& attack, const ModelSpec& task);

// Clean predictions of the split (the scored model's) and, for a targeted objective, its
// targets (on the CPU, shaped as in AttackOutcome): fixed before the attack runs. The
// least-likely target rule reads the model the attack is crafted on.
struct CleanPass {
  torch::Tensor prediction;
  torch::Tensor targets;
};
CleanPass clean_pass(const AttackRunInputs& in, const SplitData& split, RunContext& ctx);

// Fits a universal attack on `split` (the host passes adv_train).
void fit_universal(const AttackRunInputs& in, UniversalAttack& attack, const SplitData& split, RunContext& ctx);

AttackOutcome run_attack(const AttackRunInputs& in, const SplitData& split, RunContext& ctx);

}  // namespace medadv::host
