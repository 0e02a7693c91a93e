#pragma once
// CW-L2 (Carlini & Wagner 2017): a minimal-L2 attack. It optimises w with
// x' = (tanh(w) + 1) / 2 (always inside [0,1]) to minimise
//   ||x' - x||_2^2 + c * f(x'),   f = max(z_y - max_{j!=y} z_j, -kappa)   (untargeted)
//                                 f = max(max_{j!=t} z_j - z_t, -kappa)   (targeted)
// with Adam, for each constant c of a per-sample binary search: a sample that reached
// its goal (the class changed, or the target was reached, by a margin of kappa) halves
// the interval downwards, one that did not raises c (times 10 until a success bounds it).
// Each search starts afresh from w = atanh(2x - 1) and stops a sample once its loss
// stalls. The result per sample is the smallest successful x' over all searches, or the
// clean image when none succeeded.
//
// The loss is the experiment's objective with the base loss swapped for the CW margin
// (kappa the experiment's `kappa` key; -c * objective keeps targeted or not and any
// add-on terms). Everything is batched on the device: c, the bounds, the bests and the
// stalled samples are per-sample tensors; the loop asks the device whether any sample
// is still moving once every tenth of the iterations, as the reference's abort check.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include <medadv/attack.h>
#include <medadv/params.h>
#include <medadv/perturbation.h>
#include <medadv/white_box.h>

#include "classification_only.h"
#include "white_box_names.h"

namespace medadv::plugins::margin {

struct CwL2Config {
  std::int64_t searches = 5;
  double initial_c = 1e-2;
  std::int64_t steps = 100;
  double learning_rate = 0.01;
  // A sample stalls when its loss fell by less than this share since the last check.
  double stall_tolerance = 1e-4;
};

namespace cw_l2_detail {

// Bounds of c that mean "no success yet" (the reference's 1e10).
inline constexpr double kNoUpperBound = 1e10;
// Keeps atanh finite at pixels that are exactly 0 or 1.
inline constexpr double kTanhShrink = 1.0 - 1e-6;

// The CW goal with the margin kappa: untargeted z_y <= max_{j!=y} z_j - kappa, targeted
// z_t >= max_{j!=t} z_j + kappa, on top of the objective's success (the class changed
// or the target was reached). [B] bool.
inline torch::Tensor goal_reached(const Objective& cw, const torch::Tensor& logits, const torch::Tensor& labels,
                                  const torch::Tensor& targets) {
  const auto margin = cw.targeted() ? margin_per_sample(logits, targets) >= cw.kappa()
                                    : margin_per_sample(logits, labels) <= -cw.kappa();
  return cw.success(logits, labels, targets).logical_and(margin);
}

}  // namespace cw_l2_detail

inline Outcome run_cw_l2(const Problem& p, const CwL2Config& c) {
  using cw_l2_detail::goal_reached;
  using cw_l2_detail::kNoUpperBound;
  using cw_l2_detail::kTanhShrink;
  const auto& clean = p.clean;
  const std::int64_t b = p.size();
  const auto opts = clean.options();
  const auto bool_opts = opts.dtype(torch::kBool);
  const std::int64_t check_every = std::max<std::int64_t>(1, c.steps / 10);
  const auto w_clean = torch::atanh((clean * 2 - 1) * kTanhShrink);

  auto constant = torch::full({b}, c.initial_c, opts);
  auto lower = torch::zeros({b}, opts);
  auto upper = torch::full({b}, kNoUpperBound, opts);
  auto best_l2 = torch::full({b}, std::numeric_limits<float>::infinity(), opts);  // squared
  auto best = clean;
  auto iterations = torch::zeros({b}, opts.dtype(torch::kLong));

  torch::AutoGradMode grad_mode(true);  // the host may call under NoGradGuard
  for (std::int64_t s = 0; s < c.searches; ++s) {
    auto w = w_clean.clone().requires_grad_(true);
    torch::optim::Adam adam({w}, torch::optim::AdamOptions(c.learning_rate));
    auto reached_in_search = torch::zeros({b}, bool_opts);
    auto moving = torch::ones({b}, bool_opts);
    auto loss_at_check = torch::full({b}, std::numeric_limits<float>::infinity(), opts);
    for (std::int64_t t = 0; t < c.steps; ++t) {
      const auto x = (torch::tanh(w) + 1) / 2;
      const auto out = p.model->forward(x, p.taps);
      const auto l2 = (x - clean).pow(2).flatten(1).sum(1);
      const auto loss = l2 - constant * p.objective->evaluate(out, x, p.labels, p.targets);
      auto grad = torch::autograd::grad({loss.sum()}, {w}, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                        /*allow_unused=*/true)[0];

      // Bookkeeping on the point just evaluated.
      const auto logits = out.logits.detach();
      const auto reached = goal_reached(*p.objective, logits, p.labels, p.targets).logical_and(moving);
      const auto smaller = reached.logical_and(l2.detach() < best_l2);
      best_l2 = torch::where(smaller, l2.detach(), best_l2);
      best = torch::where(per_sample(smaller, clean), x.detach(), best);
      reached_in_search = reached_in_search.logical_or(reached);
      iterations += moving.to(torch::kLong);

      // Adam on every sample, then stalled samples are put back where they were.
      const auto w_before = w.detach().clone();
      w.mutable_grad() = grad.defined() ? grad : torch::zeros_like(w);
      adam.step();
      {
        torch::NoGradGuard no_grad;
        w.copy_(torch::where(per_sample(moving, w), w, w_before));
      }

      if ((t + 1) % check_every == 0 && t + 1 < c.steps) {
        const auto current = loss.detach();
        const auto stalled = current > loss_at_check - c.stall_tolerance * loss_at_check.abs();
        moving = moving.logical_and(stalled.logical_not());
        loss_at_check = current;
        if (!moving.any().item<bool>()) break;
      }
    }
    // Binary search on c: a success bounds c from above, a failure from below; without
    // an upper bound yet, c grows tenfold.
    upper = torch::where(reached_in_search, torch::minimum(upper, constant), upper);
    lower = torch::where(reached_in_search, lower, torch::maximum(lower, constant));
    constant = torch::where(upper < kNoUpperBound / 10, (lower + upper) / 2, constant * 10);
  }

  const auto last = evaluate(p, best);
  const auto found = torch::isfinite(best_l2);
  return {best.detach(), found.logical_and(p.objective->success(last.logits, p.labels, p.targets)), last.value,
          iterations};
}

class CwL2 : public Attack {
 public:
  static void schema(ParamSchema& s) {
    s.add_int("searches", 5, "Binary search steps over the constant c, per sample").min(1).max(100);
    s.add_float("initial_c", 1e-2, "Initial constant c weighting the CW margin against ||x' - x||_2^2")
        .min_exclusive(0.0)
        .max(1e9);
    s.add_int("steps", 100,
              "Adam iterations per search at most; a sample stops early once its loss fell by less than 1e-4 "
              "(relative) over a tenth of them")
        .min(1)
        .max(100000);
    s.add_float("learning_rate", 0.01, "Adam learning rate on w, x' = (tanh(w) + 1) / 2").min_exclusive(0.0).max(10.0);
  }

  CwL2(const Params& p, RunContext&) {
    config_.searches = p.get_int("searches");
    config_.initial_c = p.get_float("initial_c");
    config_.steps = p.get_int("steps");
    config_.learning_rate = p.get_float("learning_rate");
  }

  void check_task(const ModelSpec& task) const override {
    refuse_segmentation(task, "cw-l2", "the CW margin compares class logits");
  }

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext&) override {
    const Objective cw = objective.with_base(BaseLoss::CWMargin, objective.kappa());
    return to_result(run_cw_l2(make_problem(batch, capability, cw, "cw-l2"), config_));
  }

  const CwL2Config& config() const { return config_; }

 private:
  CwL2Config config_;
};

}  // namespace medadv::plugins::margin
