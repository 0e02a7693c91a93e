#pragma once
// DeepFool (Moosavi-Dezfooli et al. 2016): a minimal-norm untargeted attack. Each
// iteration linearises, at the current point x, the boundaries between the true class y
// and the candidate classes k (the classes with the highest clean logits):
//   f_k = z_k - z_y,  w_k = grad_x f_k,
// steps to the nearest linearised boundary,
//   l = argmin_k |f_k| / ||w_k||_q,   r = |f_l| / ||w_l||_2^2 * w_l        (L2, q = 2)
//                                     r = |f_l| / ||w_l||_1 * sign(w_l)    (L-inf, q = 1)
// accumulates r into r_total and sets x = clip(x0 + (1 + overshoot) r_total, 0, 1) (the
// overshoot carries x across the boundary), until the prediction leaves y or the
// iterations run out. On a binary linear model one step lands at (1 + overshoot) times
// the distance to the hyperplane. Unbounded: it reports the smallest perturbation it
// finds; the per-sample norms are in the results.
//
// Batched: the candidates' Jacobian rows come from one forward and one backward per
// candidate (autograd on the input only); a sample stops moving once it is fooled. The
// loop asks the device whether any sample is still moving once every tenth of the
// iterations, not every step.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <medadv/attack.h>
#include <medadv/params.h>
#include <medadv/perturbation.h>
#include <medadv/white_box.h>

#include "classification_only.h"
#include "white_box_names.h"

namespace medadv::plugins::margin {

struct DeepFoolConfig {
  Norm norm = Norm::L2;
  std::int64_t candidates = 10;  // classes considered, the true class included
  double overshoot = 0.02;
  std::int64_t steps = 50;
};

namespace deepfool_detail {

// Guards the divisions by ||w_k|| (a flat boundary gradient).
inline constexpr double kTinyNorm = 1e-8;

// The candidate classes other than the label, per sample [B, n-1]: the n - 1 highest
// clean logits once the label's is excluded (n = min(candidates, K)).
inline torch::Tensor rival_classes(const torch::Tensor& clean_logits, const torch::Tensor& labels,
                                   std::int64_t candidates) {
  const std::int64_t k = clean_logits.size(1);
  const std::int64_t n = std::min(candidates, k);
  const auto own = torch::one_hot(labels, k).to(torch::kBool);
  const auto others = clean_logits.masked_fill(own, -std::numeric_limits<float>::infinity());
  return std::get<1>(others.topk(n - 1, /*dim=*/1));
}

}  // namespace deepfool_detail

inline Outcome run_deepfool(const Problem& p, const DeepFoolConfig& c) {
  using deepfool_detail::kTinyNorm;
  using deepfool_detail::rival_classes;
  const auto& clean = p.clean;
  const std::int64_t b = p.size();
  const auto rivals = rival_classes(evaluate(p, clean).logits, p.labels, c.candidates);  // [B, R]
  const std::int64_t r_count = rivals.size(1);
  const std::int64_t check_every = std::max<std::int64_t>(1, c.steps / 10);

  auto x = clean;
  auto r_total = torch::zeros_like(clean);
  auto active = torch::ones({b}, torch::TensorOptions().dtype(torch::kBool).device(clean.device()));
  auto iterations = torch::zeros({b}, torch::TensorOptions().dtype(torch::kLong).device(clean.device()));
  for (std::int64_t t = 0; t < c.steps; ++t) {
    if (t > 0 && t % check_every == 0 && !active.any().item<bool>()) break;  // every sample is fooled
    torch::AutoGradMode grad_mode(true);  // the host may call under NoGradGuard
    const auto x_var = x.detach().requires_grad_(true);
    const auto logits = p.model->forward(x_var, {}).logits;
    active = active.logical_and(p.objective->success(logits.detach(), p.labels, p.targets).logical_not());

    const auto f = logits.gather(1, rivals) - logits.gather(1, p.labels.unsqueeze(1));  // [B, R]
    std::vector<torch::Tensor> rows;
    rows.reserve(static_cast<std::size_t>(r_count));
    for (std::int64_t j = 0; j < r_count; ++j) {
      // Samples are independent, so the gradient of the batch sum is each sample's own.
      auto g = torch::autograd::grad({f.select(1, j).sum()}, {x_var}, {}, /*retain_graph=*/j + 1 < r_count,
                                     /*create_graph=*/false, /*allow_unused=*/true)[0];
      rows.push_back(g.defined() ? g.detach() : torch::zeros_like(clean));
    }
    const auto w = torch::stack(rows, 1);  // [B, R, C, H, W]
    const auto w_flat = w.flatten(2);
    const auto dual = c.norm == Norm::L2 ? w_flat.norm(2, 2) : w_flat.abs().sum(2);  // [B, R]
    const auto distance = f.detach().abs() / (dual + kTinyNorm);
    const auto nearest = std::get<1>(distance.min(1));  // [B]
    const auto pick = [&](const torch::Tensor& t) { return t.gather(1, nearest.unsqueeze(1)).squeeze(1); };
    const auto d = pick(distance);
    const auto idx = nearest.view({b, 1, 1}).expand({b, 1, w_flat.size(2)});
    const auto w_near = w_flat.gather(1, idx).squeeze(1).view_as(clean);
    const auto step = c.norm == Norm::L2 ? per_sample(d / (pick(dual) + kTinyNorm), clean) * w_near
                                         : per_sample(d, clean) * w_near.sign();
    r_total = r_total + torch::where(per_sample(active, clean), step, torch::zeros_like(step));
    x = (clean + (1 + c.overshoot) * r_total).clamp(0.0, 1.0).detach();
    iterations += active.to(torch::kLong);
  }
  const auto last = evaluate(p, x);
  return {x, p.objective->success(last.logits, p.labels, p.targets).to(torch::kBool), last.value, iterations};
}

class DeepFool : public Attack {
 public:
  static void schema(ParamSchema& s) {
    s.add_enum<Norm>("norm", norm_names(), Norm::L2, "Norm in which the nearest linearised boundary is sought");
    s.add_int("candidates", 10,
              "Classes whose boundaries are linearised, the true class included: the highest clean logits "
              "(at most the number of classes)")
        .min(2)
        .max(100000);
    s.add_float("overshoot", 0.02, "Relative overshoot past the boundary: x = x0 + (1 + overshoot) r_total")
        .min(0.0)
        .max(10.0);
    s.add_int("steps", 50, "Maximum iterations (linearise and step)").min(1).max(100000);
  }

  DeepFool(const Params& p, RunContext&) {
    config_.norm = p.get_enum<Norm>("norm");
    config_.candidates = p.get_int("candidates");
    config_.overshoot = p.get_float("overshoot");
    config_.steps = p.get_int("steps");
  }

  void check_task(const ModelSpec& task) const override {
    refuse_segmentation(task, "deepfool", "it linearises the decision boundaries between classes");
  }

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext&) override {
    if (objective.targeted())
      throw InvalidInput(
          "deepfool is untargeted: it steps to the nearest decision boundary, whichever class lies behind it; "
          "use cw-l2 or apgd for a targeted minimal or bounded attack (set targeted = false)");
    return to_result(run_deepfool(make_problem(batch, capability, objective, "deepfool"), config_));
  }

  const DeepFoolConfig& config() const { return config_; }

 private:
  DeepFoolConfig config_;
};

}  // namespace medadv::plugins::margin
