#pragma once
// What the score-based black-box attacks (square, simba, nes, zoo) share: the checks before they
// run, a per-sample ledger of the queries they may still make, and the class scores
// they read from the oracle's probabilities.
//
// Internal to the family: plugins of other folders must not include it.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include <torch/torch.h>

#include <medadv/attack.h>
#include <medadv/capabilities.h>
#include <medadv/error.h>
#include <medadv/model.h>
#include <medadv/objective.h>

namespace medadv::plugins::blackbox {

// Below this a probability is taken as this (float softmax underflows to 0; its log
// would be -inf and no candidate could look better).
inline constexpr double kMinProbability = 1e-30;

// Score-based attacks compare class scores: they refuse a segmentation task (and a
// model with a single output) up front.
inline void refuse_non_classification(const ModelSpec& task, const std::string& attack) {
  if (task.task == Task::Segmentation)
    throw InvalidInput(attack + " attacks classifiers only: it compares class probabilities; this task is segmentation");
  if (task.num_classes < 2)
    throw InvalidInput(attack + " needs at least two classes to compare; this model has " +
                       std::to_string(task.num_classes));
}

// The checks every score-based attack makes before its first query: an oracle that
// answers probabilities, a classification batch, targets when the objective is targeted,
// and no add-on term that would need the victim's features (an oracle has none).
inline void check_score_based(Oracle& oracle, const AttackBatch& batch, const Objective& objective,
                              const std::string& attack) {
  if (oracle.labels_only())
    throw CapabilityError(attack + " is a score-based attack: it needs the oracle's probabilities, and this oracle "
                          "answers labels only (a decision-based threat model)");
  if (batch.images.dim() != 4) throw InvalidInput(attack + " expects images [B,C,H,W]");
  if (batch.labels.dim() != 1)
    throw InvalidInput(attack + " attacks classifiers only: labels must be class indices [B]");
  if (objective.targeted() && !batch.targets.defined())
    throw InvalidInput(attack + ": the objective is targeted but the batch has no targets");
  if (!objective.required_taps().empty())
    throw InvalidInput(attack + " is a black-box attack: its oracle answers probabilities only, so add-on terms "
                       "that read the victim's feature taps cannot be evaluated; remove the `add` terms");
}

// Per-sample query accounting on the CPU (counting never waits for the device). A sample
// may spend min(max_queries, what the oracle's budget leaves it) queries in this run; the
// oracle counts too and refuses a query past its budget, so the ledger keeps every query
// inside both.
class QueryLedger {
 public:
  QueryLedger(Oracle& oracle, std::int64_t batch, std::int64_t max_queries) : oracle_(oracle) {
    const auto opts = torch::TensorOptions().dtype(torch::kLong);
    torch::Tensor before = oracle.queries();
    if (!before.defined() || before.numel() != batch) before = torch::zeros({batch}, opts);
    const std::int64_t budget = oracle.budget_per_sample();
    const auto oracle_left = (torch::full({batch}, budget, opts) - before.to(torch::kCPU, torch::kLong)).clamp_min(0);
    left_ = oracle_left.clamp_max(std::max<std::int64_t>(max_queries, 0));
    spent_ = torch::zeros({batch}, opts);
  }

  // Queries each sample may still make, [B] int64 (CPU).
  const torch::Tensor& left() const { return left_; }
  // Queries each sample made through this ledger, [B] int64 (CPU).
  const torch::Tensor& spent() const { return spent_; }

  // Probabilities [R,K] of the rows `x` made for the batch samples `rows` (int64 [R] on
  // the CPU; a sample may own several rows, e.g. a set of probes), counted one query each.
  torch::Tensor probabilities(const torch::Tensor& x, const torch::Tensor& rows) {
    const auto one = torch::ones({rows.numel()}, torch::kLong);
    auto probs = oracle_.probabilities(x, rows);
    left_.index_add_(0, rows, -one);
    spent_.index_add_(0, rows, one);
    return probs;
  }

 private:
  Oracle& oracle_;
  torch::Tensor left_, spent_;
};

// log p, with p floored at kMinProbability: logits up to a per-row constant, so margins
// between classes are the logits' margins.
inline torch::Tensor log_probabilities(const torch::Tensor& probs) {
  return probs.clamp_min(kMinProbability).log();
}

// The probability of class `cls` [R] in each row of `probs` [R,K].
inline torch::Tensor class_probability(const torch::Tensor& probs, const torch::Tensor& cls) {
  return probs.gather(1, cls.view({-1, 1})).squeeze(1);
}

// The loss square and nes minimise, per row [R]: untargeted the margin
// log p_y - max_{k!=y} log p_k (the logits' margin), targeted the cross-entropy -log p_t.
inline torch::Tensor margin_or_target_ce(const torch::Tensor& probs, const torch::Tensor& labels,
                                         const torch::Tensor& targets, bool targeted) {
  const auto logp = log_probabilities(probs);
  return targeted ? -class_probability(logp, targets) : margin_per_sample(logp, labels);
}

// The rows `rows` of `t` (on t's device), or undefined when `t` is (no targets).
inline torch::Tensor pick_rows(const torch::Tensor& t, const torch::Tensor& rows) {
  return t.defined() ? t.index_select(0, rows) : t;
}

// Host-side int64 indices of the true entries of a CPU bool mask.
inline torch::Tensor rows_where(const torch::Tensor& mask) { return torch::nonzero(mask).flatten(); }

// The first query of every sample that has one to spend: its clean image. nes, zoo and
// simba start from it (square starts from its stripes instead).
struct CleanQuery {
  torch::Tensor started;        // [B] bool (CPU): the samples that made it
  torch::Tensor rows;           // their indices, int64 (CPU)
  torch::Tensor probabilities;  // [R,K] of those rows, on the batch's device
  torch::Tensor success;        // [B] bool on the batch's device: the clean image already meets the goal
};
inline CleanQuery query_clean(QueryLedger& ledger, const torch::Tensor& clean, const torch::Tensor& labels,
                              const torch::Tensor& targets, const Objective& objective) {
  CleanQuery q;
  q.started = ledger.left() > 0;
  q.rows = rows_where(q.started);
  q.success = torch::zeros({clean.size(0)}, torch::TensorOptions().dtype(torch::kBool).device(clean.device()));
  if (q.rows.numel() == 0) return q;
  const auto rows_d = q.rows.to(clean.device());
  q.probabilities = ledger.probabilities(clean.index_select(0, rows_d), q.rows);
  q.success.index_copy_(0, rows_d,
                        objective.success(log_probabilities(q.probabilities), labels.index_select(0, rows_d),
                                          pick_rows(targets, rows_d))
                            .to(torch::kBool));
  return q;
}

}  // namespace medadv::plugins::blackbox
