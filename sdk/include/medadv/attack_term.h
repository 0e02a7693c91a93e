#pragma once
// Add-on loss terms any white-box attack can carry (HFC, feature matching, detector
// evasion, feature stress test).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/capabilities.h"
#include "medadv/context.h"
#include "medadv/export.h"
#include "medadv/image_batches.h"
#include "medadv/model.h"

namespace medadv {

// The host fits a term once per model variant and shares the fitted instance between the
// attacks that add it with the same parameters and fit split, one attack at a time: keep
// in it only what fit() computes, and per-batch state that begin_batch() sets afresh.
class MEDADV_API AttackTerm {
 public:
  virtual ~AttackTerm();
  // Taps this term reads in every forward.
  virtual std::vector<std::string> taps() const = 0;
  // Called once before the attack runs, on clean data read a batch at a time: the
  // experiment's `fit_split` of the add table (by default the training split, which a
  // white-box attacker knows), labels as the attack gets them. Read `batch_size` rows at a
  // time on ctx.device() (features::pooled_features does).
  virtual void fit(DifferentiableModel& model, const ImageBatches& data, std::int64_t batch_size,
                   RunContext& ctx) = 0;
  // Called before the attack runs on each batch (Objective::begin_batch) with its clean
  // images on ctx.device() and the labels and targets loss() will get: a term that keeps
  // per-image state for the batch, such as feature matching's guide images, sets it here
  // (it is reset with the next batch). The default does nothing.
  virtual void begin_batch(DifferentiableModel& model, const torch::Tensor& clean, const torch::Tensor& labels,
                           const torch::Tensor& targets, RunContext& ctx);
  // Per-sample term to maximise, [B]. `labels` and `targets` are the attack's, as its
  // objective gets them (class indices [B], or masks [B,1,H,W] for segmentation; `targets`
  // undefined unless the objective is targeted): a term about the target class (hfc)
  // reads them.
  virtual torch::Tensor loss(const ModelOutput& out, const torch::Tensor& x_adv, const torch::Tensor& labels,
                             const torch::Tensor& targets) = 0;
  // Optional figures for the attack trial's results line (the feature stress test's
  // activations before and after), called once per attacked split after the attack.
  // `clean` and `adversarial` are the split's images, row for row: read them in batches
  // of `batch_size` rows on ctx.device(). Name each figure with a prefix of the term's
  // own, e.g. "stress.block2.clean_mean"; the host writes them as given. The default
  // returns nothing.
  virtual std::map<std::string, double> summarize(DifferentiableModel& model, const ImageBatches& clean,
                                                  const ImageBatches& adversarial, std::int64_t batch_size,
                                                  RunContext& ctx);
};

}  // namespace medadv
