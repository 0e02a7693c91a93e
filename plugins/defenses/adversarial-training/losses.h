#pragma once
// The outer losses of TRADES and MART as functions of the clean and adversarial logits,
// written after the authors' reference code (yaodongyu/TRADES, YisenWang/MART), and the
// KL term TRADES' inner attack maximises.
#include <string>
#include <vector>

#include <medadv/attack_term.h>
#include <medadv/objective.h>

#include "inner_attack.h"

namespace medadv::plugins::adversarial_training {

// KL(p_clean || p_adv) per sample [B]: sum_j p_j (log p_j - log q_j) with p =
// softmax(clean), q = softmax(adv); PyTorch's KLDivLoss(log q, p) summed over classes.
inline torch::Tensor kl_per_sample(const torch::Tensor& clean_logits, const torch::Tensor& adversarial_logits) {
  const torch::Tensor log_p = torch::log_softmax(clean_logits, 1);
  const torch::Tensor log_q = torch::log_softmax(adversarial_logits, 1);
  return (log_p.exp() * (log_p - log_q)).sum(1);
}

// TRADES (Zhang et al. 2019): CE(f(x), y) + beta KL(p(x) || p(x_adv)), per sample, reduced
// by the class-weighted mean (the plain mean without weights: the reference's
// cross_entropy + beta / B * KLDivLoss(sum)).
inline torch::Tensor trades_loss(const torch::Tensor& clean_logits, const torch::Tensor& adversarial_logits,
                                 const torch::Tensor& y, double beta, const torch::Tensor& class_weights = {}) {
  const torch::Tensor per_sample =
      cross_entropy_per_sample(clean_logits, y) + beta * kl_per_sample(clean_logits, adversarial_logits);
  return weighted_mean(per_sample, y, class_weights);
}

// MART (Wang et al. 2020), per sample:
//   BCE = CE(f(x_adv), y) - log(1.0001 - q_y')   with y' the most probable wrong class under q
//   KL  = sum_j p_j (log p_j - log(q_j + 1e-12)) * (1.0000001 - p_y)
//   loss = BCE + beta KL
// p = softmax(f(x)), q = softmax(f(x_adv)); the constants are the reference code's, and the
// weight (1 - p_y) is not detached there either. Reduced by the class-weighted mean (plain
// mean without weights).
inline torch::Tensor mart_loss(const torch::Tensor& clean_logits, const torch::Tensor& adversarial_logits,
                               const torch::Tensor& y, double beta, const torch::Tensor& class_weights = {}) {
  const torch::Tensor q = torch::softmax(adversarial_logits, 1);
  const torch::Tensor is_label = torch::zeros_like(q, q.options().dtype(torch::kBool)).scatter_(1, y.unsqueeze(1), true);
  const torch::Tensor wrong = q.masked_fill(is_label, -1.0).argmax(1);
  const torch::Tensor q_wrong = q.gather(1, wrong.unsqueeze(1)).squeeze(1);
  const torch::Tensor boosted_ce = cross_entropy_per_sample(adversarial_logits, y) - torch::log(1.0001 - q_wrong + 1e-12);
  const torch::Tensor log_p = torch::log_softmax(clean_logits, 1);
  const torch::Tensor p = log_p.exp();
  const torch::Tensor kl = (p * (log_p - torch::log(q + 1e-12))).sum(1);
  const torch::Tensor p_label = p.gather(1, y.unsqueeze(1)).squeeze(1);
  return weighted_mean(boosted_ce + beta * kl * (1.0000001 - p_label), y, class_weights);
}

// TRADES' inner objective as an attack term: KL(p(x) || p(x_adv)) per sample, p(x) taken
// once per batch (begin_batch) in the attack's mode, without gradients, as the reference
// code does. The objective carrying it has no base loss (BaseLoss::None). At x_adv = x
// its gradient vanishes: the inner attack needs a random start (pgd's uniform start in
// the ball; the reference starts from x + 0.001 N(0, 1)).
class TradesKlTerm : public AttackTerm {
 public:
  std::vector<std::string> taps() const override { return {}; }
  void fit(DifferentiableModel&, const ImageBatches&, std::int64_t, RunContext&) override {}
  void begin_batch(DifferentiableModel& model, const torch::Tensor& clean, const torch::Tensor&, const torch::Tensor&,
                   RunContext&) override {
    torch::NoGradGuard no_grad;
    clean_logits_ = model.forward(clean, {}).logits.detach();
  }
  torch::Tensor loss(const ModelOutput& out, const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) override {
    if (!clean_logits_.defined() || clean_logits_.size(0) != out.logits.size(0))
      throw Error("the TRADES KL term was evaluated before begin_batch() gave it this batch's clean images");
    return kl_per_sample(clean_logits_, out.logits);
  }

 private:
  torch::Tensor clean_logits_;
};

}  // namespace medadv::plugins::adversarial_training
