#include "medadv/objective.h"

#include <algorithm>
#include <limits>

#include "medadv/attack_term.h"
#include "medadv/error.h"

namespace medadv {

const char* base_loss_name(BaseLoss b) {
  switch (b) {
    case BaseLoss::CrossEntropy: return "ce";
    case BaseLoss::CWMargin: return "cw";
    case BaseLoss::DLR: return "dlr";
  }
  return "?";
}

torch::Tensor cross_entropy_per_sample(const torch::Tensor& logits, const torch::Tensor& y) {
  return torch::nn::functional::cross_entropy(
      logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
}

namespace {
// Largest logit among classes other than y, [B].
torch::Tensor max_other(const torch::Tensor& logits, const torch::Tensor& y) {
  const auto own = torch::one_hot(y, logits.size(1)).to(torch::kBool);
  return std::get<0>(logits.masked_fill(own, -std::numeric_limits<float>::infinity()).max(1));
}
torch::Tensor logit_of(const torch::Tensor& logits, const torch::Tensor& y) {
  return logits.gather(1, y.unsqueeze(1)).squeeze(1);
}
}  // namespace

torch::Tensor margin_per_sample(const torch::Tensor& logits, const torch::Tensor& y) {
  return logit_of(logits, y) - max_other(logits, y);
}

torch::Tensor dlr_per_sample(const torch::Tensor& logits, const torch::Tensor& y) {
  if (logits.size(1) < 3) throw InvalidInput("the DLR loss needs at least 3 classes; use the CW margin");
  const auto sorted = std::get<0>(logits.sort(1, /*descending=*/true));
  const auto scale = sorted.select(1, 0) - sorted.select(1, 2) + 1e-12;
  return -margin_per_sample(logits, y) / scale;
}

torch::Tensor dlr_targeted_per_sample(const torch::Tensor& logits, const torch::Tensor& y, const torch::Tensor& t) {
  if (logits.size(1) < 4) throw InvalidInput("the targeted DLR loss needs at least 4 classes; use the CW margin");
  const auto sorted = std::get<0>(logits.sort(1, /*descending=*/true));
  const auto scale = sorted.select(1, 0) - (sorted.select(1, 2) + sorted.select(1, 3)) / 2 + 1e-12;
  return -(logit_of(logits, y) - logit_of(logits, t)) / scale;
}

Objective::Objective(BaseLoss base, bool targeted, double kappa) : base_(base), targeted_(targeted), kappa_(kappa) {}

void Objective::add_term(std::shared_ptr<AttackTerm> term, double weight, std::string label) {
  terms_.push_back(Term{std::move(term), weight, std::move(label)});
}

std::vector<std::string> Objective::required_taps() const {
  std::vector<std::string> taps;
  for (const auto& t : terms_)
    for (const auto& name : t.term->taps())
      if (std::find(taps.begin(), taps.end(), name) == taps.end()) taps.push_back(name);
  return taps;
}

torch::Tensor Objective::evaluate(const ModelOutput& out, const torch::Tensor& x_adv, const torch::Tensor& labels,
                                  const torch::Tensor& targets) const {
  const auto& z = out.logits;
  if (targeted_ && !targets.defined()) throw Error("a targeted objective was evaluated without targets");
  torch::Tensor value;
  switch (base_) {
    case BaseLoss::CrossEntropy:
      value = targeted_ ? -cross_entropy_per_sample(z, targets) : cross_entropy_per_sample(z, labels);
      break;
    case BaseLoss::CWMargin:
      value = targeted_ ? -torch::clamp_min(-margin_per_sample(z, targets), -kappa_)
                        : -torch::clamp_min(margin_per_sample(z, labels), -kappa_);
      break;
    case BaseLoss::DLR:
      value = targeted_ ? dlr_targeted_per_sample(z, labels, targets) : dlr_per_sample(z, labels);
      break;
  }
  for (const auto& t : terms_) value = value + t.weight * t.term->loss(out, x_adv);
  return value;
}

torch::Tensor Objective::success(const torch::Tensor& logits, const torch::Tensor& labels,
                                 const torch::Tensor& targets) const {
  const auto pred = logits.argmax(1);
  return targeted_ ? pred.eq(targets) : pred.ne(labels);
}

}  // namespace medadv
