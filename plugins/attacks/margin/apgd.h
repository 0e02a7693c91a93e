#pragma once
// APGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an
// ensemble of diverse parameter-free attacks"): projected gradient ascent with momentum
// whose step size adapts per sample at checkpoints.
//
// - Step size starts at 2 * epsilon (per sample); momentum 0.75 (the first step has none):
//     z      = P(x_k + eta * dir(grad))
//     x_k+1  = P(x_k + a (z - x_k) + (1 - a)(x_k - x_k-1))
//   with P the projection onto the ball followed by clipping to [0,1], dir = sign for
//   L-inf and grad / ||grad||_2 for L2.
// - Checkpoints w_j = ceil(p_j N) with p_0 = 0, p_1 = 0.22,
//   p_j+1 = p_j + max(p_j - p_j-1 - 0.03, 0.06) (apgd_checkpoints).
// - At checkpoint w_j a sample halves its step and restarts from its best point when
//   (1) fewer than rho = 75% of its steps since w_j-1 increased the loss, or
//   (2) its step was not halved at w_j-1 and its best loss has not grown since w_j-1
//   (as in the authors' code, (2) does not apply at the first checkpoint).
// - The loss is the experiment's objective as given (`loss` key): cross-entropy, CW margin
//   or DLR for classifiers, BCE, soft IoU or soft Dice for segmentation models (the step
//   rule is loss-agnostic, and success is the objective's), plus any add-on terms.
// Every decision is a per-sample mask on the device; the checkpoints are known in
// advance, so the loop never waits for the device.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <medadv/attack.h>
#include <medadv/params.h>
#include <medadv/perturbation.h>
#include <medadv/white_box.h>

#include "white_box_names.h"

namespace medadv::plugins::margin {

// The checkpoints W = {w_0 = 0, w_1, ...} of N iterations: w_j = ceil(p_j N), p_j as
// above, kept while p_j <= 1 and distinct. The fractions are whole hundredths, so they
// are computed in integers (0.22 + 0.19 is not 0.41 in binary floating point, and
// ceil would round it up). For N = 100: 0, 22, 41, 57, 70, 80, 87, 93, 99.
inline std::vector<std::int64_t> apgd_checkpoints(std::int64_t iterations) {
  std::vector<std::int64_t> w{0};
  std::int64_t p = 22, length = 22;  // p_1 and p_1 - p_0, in hundredths
  while (p <= 100) {
    const std::int64_t checkpoint = (p * iterations + 99) / 100;  // ceil(p / 100 * N)
    if (checkpoint > w.back()) w.push_back(checkpoint);
    length = std::max<std::int64_t>(length - 3, 6);
    p += length;
  }
  return w;
}

struct ApgdConfig {
  Norm norm = Norm::Linf;
  double epsilon = 8.0 / 255;
  std::int64_t steps = 100;
  double initial_step = 2.0;  // times epsilon
  double momentum = 0.75;
  double rho = 0.75;  // share of loss increases below which a checkpoint halves the step
};

// One APGD run on the whole batch from `start` (inside the ball). Samples set in
// `frozen` ([B] bool, optional) are never updated and count no iterations. Returns, per
// sample, the last iterate that succeeded, else the point of highest objective.
inline Outcome run_apgd(const Problem& p, const torch::Tensor& start, const ApgdConfig& c,
                        const torch::Tensor& frozen = {}) {
  const auto& clean = p.clean;
  const std::int64_t b = p.size();
  const auto bool_opts = torch::TensorOptions().dtype(torch::kBool).device(clean.device());
  const auto active = frozen.defined() ? frozen.logical_not() : torch::ones({b}, bool_opts);
  const auto active_x = per_sample(active, clean);
  const auto project = [&](const torch::Tensor& x) { return project_and_clip(x, clean, c.norm, c.epsilon); };

  auto x = start.detach();
  auto e = evaluate_with_grad(p, x);
  auto grad = e.grad;
  auto loss = e.value;
  auto x_previous = x;
  auto x_best = x, grad_best = grad, loss_best = loss;
  auto success = p.objective->success(e.logits, p.labels, p.targets).logical_and(active);
  auto x_success = x;
  auto step = torch::full({b}, c.initial_step * c.epsilon, clean.options());

  // Per-sample state of the current checkpoint interval.
  auto increases = torch::zeros({b}, clean.options());
  auto loss_best_at_checkpoint = loss_best;
  auto halved_at_checkpoint = torch::ones({b}, bool_opts);  // condition (2) waits for the second checkpoint

  const auto checkpoints = apgd_checkpoints(c.steps);
  std::size_t next = 1;
  for (std::int64_t i = 0; i < c.steps; ++i) {
    const double a = i == 0 ? 1.0 : c.momentum;
    const auto z = project(x + per_sample(step, x) * ascent_direction(grad, c.norm));
    const auto moved = project(x + a * (z - x) + (1 - a) * (x - x_previous));
    x_previous = x;
    x = torch::where(active_x, moved, x);

    e = evaluate_with_grad(p, x);
    grad = e.grad;
    increases += (e.value > loss).to(increases.scalar_type());
    loss = e.value;

    const auto solved = p.objective->success(e.logits, p.labels, p.targets).logical_and(active);
    x_success = torch::where(per_sample(solved, x), x, x_success);
    success = success.logical_or(solved);

    const auto improved = loss > loss_best;
    const auto improved_x = per_sample(improved, x);
    x_best = torch::where(improved_x, x, x_best);
    grad_best = torch::where(improved_x, grad, grad_best);
    loss_best = torch::where(improved, loss, loss_best);

    if (next < checkpoints.size() && i + 1 == checkpoints[next]) {
      const double interval = static_cast<double>(checkpoints[next] - checkpoints[next - 1]);
      const auto oscillating = increases < c.rho * interval;
      const auto stalled = halved_at_checkpoint.logical_not().logical_and(loss_best <= loss_best_at_checkpoint);
      const auto halve = oscillating.logical_or(stalled);
      const auto halve_x = per_sample(halve, x);
      step = torch::where(halve, step / 2, step);
      // Restart from the best point, from rest (no momentum carried over from elsewhere).
      x = torch::where(halve_x, x_best, x);
      x_previous = torch::where(halve_x, x_best, x_previous);
      grad = torch::where(halve_x, grad_best, grad);
      loss = torch::where(halve, loss_best, loss);
      halved_at_checkpoint = halve;
      loss_best_at_checkpoint = loss_best;
      increases.zero_();
      ++next;
    }
  }

  const auto adversarial = torch::where(per_sample(success, x_best), x_success, x_best);
  const auto last = evaluate(p, adversarial);
  return {adversarial.detach(), p.objective->success(last.logits, p.labels, p.targets).to(torch::kBool), last.value,
          active.to(torch::kLong) * c.steps};
}

class Apgd : public Attack {
 public:
  static void schema(ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255",
                  "Radius of the norm ball around the clean image, in pixel units ([0,1] images); at most 1 for "
                  "linf");
    s.add_enum<Norm>("norm", norm_names(), Norm::Linf, "Norm of the perturbation ball");
    add_linf_epsilon_check(s);
    s.add_int("steps", 100, "Iterations per restart (the checkpoints are fractions of them)").min(1).max(100000);
    s.add_float("initial_step", 2.0, "Initial step size as a multiple of epsilon (per sample, halved at checkpoints)")
        .min_exclusive(0.0)
        .max(100.0);
    s.add_float("momentum", 0.75, "Weight of the new step against the previous one (1 = no momentum)")
        .min_exclusive(0.0)
        .max(1.0);
    s.add_float("rho", 0.75,
                "A checkpoint halves a sample's step when fewer than this share of its steps since the last "
                "checkpoint increased the loss")
        .min(0.0)
        .max(1.0);
    s.add_bool("random_start", true,
               "Start from a uniform random point of the ball (linf: uniform in [-eps, eps] per pixel; l2: uniform "
               "in the ball); else from the clean image");
    s.add_int("restarts", 1,
              "Runs from fresh random starts; each sample keeps its first successful result, else the one with "
              "the highest objective. Later restarts update only the samples still unsolved; without "
              "random_start one run is made")
        .min(1)
        .max(1000);
  }

  Apgd(const Params& p, RunContext&) : random_start_(p.get_bool("random_start")), restarts_(p.get_int("restarts")) {
    config_.norm = p.get_enum<Norm>("norm");
    config_.epsilon = p.get_float("epsilon");
    config_.steps = p.get_int("steps");
    config_.initial_step = p.get_float("initial_step");
    config_.momentum = p.get_float("momentum");
    config_.rho = p.get_float("rho");
  }

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext& ctx) override {
    const Problem problem = make_problem(batch, capability, objective, "apgd");
    const std::int64_t restarts = random_start_ ? restarts_ : 1;
    return to_result(best_of_restarts(restarts, [&](std::int64_t r, const torch::Tensor& frozen) {
      const auto start = random_start_ ? random_start(problem.clean, config_.norm, config_.epsilon,
                                                      ctx.seed_for("apgd/random-start/" + std::to_string(r)))
                                       : problem.clean;
      return run_apgd(problem, start, config_, frozen);
    }));
  }

  const ApgdConfig& config() const { return config_; }

 private:
  ApgdConfig config_;
  bool random_start_;
  std::int64_t restarts_;
};

}  // namespace medadv::plugins::margin
