#pragma once
// What a white-box attack optimises on one batch, and the per-sample bookkeeping every
// such attack shares: the objective and its gradient with respect to the input only
// (model weights frozen: torch::autograd::grad targets the input, no parameter's .grad
// is touched), success per sample, and restarts that keep the best result per sample.
// No host synchronisation per step; tensors stay on the batch's device.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/attack.h"
#include "medadv/capabilities.h"
#include "medadv/context.h"
#include "medadv/error.h"
#include "medadv/objective.h"
#include "medadv/params.h"
#include "medadv/perturbation.h"

namespace medadv::white_box {

using medadv::perturbation::ascent_step;
using medadv::perturbation::Norm;
using medadv::perturbation::per_sample;

// ---- The attacked problem --------------------------------------------------------

// What a white-box attack attacks: the gradient model, the objective, and the clean
// batch. Attacks always run on the whole batch (restarts included), so that
// attack terms holding per-sample state from their fit on the clean batch stay aligned.
struct Problem {
  DifferentiableModel* model = nullptr;
  const Objective* objective = nullptr;
  torch::Tensor clean;    // [B, C, H, W] in [0,1]
  torch::Tensor labels;   // [B]
  torch::Tensor targets;  // [B] when targeted, else undefined
  std::vector<std::string> taps;

  std::int64_t size() const { return clean.size(0); }
};

// Checks the batch against the objective and the capability. Throws InvalidInput.
inline Problem make_problem(const AttackBatch& batch, Capability& capability, const Objective& objective,
                            const std::string& attack) {
  if (!batch.images.defined() || batch.images.dim() < 2)
    throw InvalidInput(attack + ": the batch has no images of shape [B, ...]");
  const std::int64_t b = batch.images.size(0);
  if (!batch.labels.defined() || batch.labels.size(0) != b)
    throw InvalidInput(attack + ": the batch needs labels with " + std::to_string(b) + " rows");
  if (objective.targeted() && (!batch.targets.defined() || batch.targets.size(0) != b))
    throw InvalidInput(attack + ": a targeted objective needs targets with " + std::to_string(b) + " rows");
  Problem p;
  p.model = &capability.gradient_model();
  p.objective = &objective;
  p.clean = batch.images.detach();
  p.labels = batch.labels;
  p.targets = batch.targets;
  p.taps = objective.required_taps();
  return p;
}

struct Evaluation {
  torch::Tensor value;   // [B] objective (detached)
  torch::Tensor logits;  // detached
  torch::Tensor grad;    // d sum(value) / d x, shaped like x; undefined when not asked for
};

// Optional transform of the input before the forward (DIM's random resize-and-pad);
// the gradient flows back through it to x.
using InputTransform = std::function<torch::Tensor(const torch::Tensor& x)>;

// Objective and its gradient with respect to x only. The parameters' .grad are never
// touched (autograd::grad computes only what reaching x needs). On a randomised model the
// host wrapped for EOT (ExpectationOverDraws, `eot = N`), value and gradient are the means
// over N draws, each through the randomised model once, one after another (a draw's
// forward holds the graph of one batch, not N), and the logits those of the average
// prediction (expected_logits).
inline Evaluation evaluate_with_grad(const Problem& p, const torch::Tensor& x_adv,
                                     const InputTransform& transform = {}) {
  torch::AutoGradMode grad_mode(true);  // the host may call under NoGradGuard
  auto* expectation = dynamic_cast<ExpectationOverDraws*>(p.model);
  DifferentiableModel& model = expectation ? expectation->one_draw() : *p.model;
  const std::int64_t draws = expectation ? std::max<std::int64_t>(1, expectation->draws()) : 1;
  torch::Tensor value_sum, grad_sum;
  std::vector<torch::Tensor> logits;
  for (std::int64_t draw = 0; draw < draws; ++draw) {
    auto x = x_adv.detach().requires_grad_(true);
    const auto input = transform ? transform(x) : x;
    const auto out = model.forward(input, p.taps);
    const auto value = p.objective->evaluate(out, x, p.labels, p.targets);
    if (!value.requires_grad())
      throw Error("the objective does not depend differentiably on the input (is the model detached from autograd?)");
    auto grads = torch::autograd::grad({value.sum()}, {x}, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);
    auto grad = grads[0].defined() ? grads[0].detach() : torch::zeros_like(x);
    value_sum = value_sum.defined() ? value_sum + value.detach() : value.detach();
    grad_sum = grad_sum.defined() ? grad_sum + grad : grad;
    logits.push_back(out.logits.detach());
  }
  if (draws == 1) return {value_sum, logits.front(), grad_sum};
  const double n = static_cast<double>(draws);
  return {value_sum / n, expected_logits(logits), grad_sum / n};
}

// Objective and logits without gradients.
inline Evaluation evaluate(const Problem& p, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  const auto out = p.model->forward(x, p.taps);
  return {p.objective->evaluate(out, x, p.labels, p.targets).detach(), out.logits.detach(), {}};
}

// Per-sample outcome of one run (or the best over restarts).
struct Outcome {
  torch::Tensor adversarial;  // [B, ...] detached, in the ball and in [0,1]
  torch::Tensor success;      // [B] bool
  torch::Tensor value;        // [B] objective at `adversarial`
  torch::Tensor iterations;   // [B] int64 gradient steps spent
};

// ---- The iterative loop ----------------------------------------------------------

struct IterativeConfig {
  Norm norm = Norm::Linf;
  double epsilon = 0.0;
  double step = 0.0;
  std::int64_t steps = 1;
  // Step schedule: every `decay_at` steps (0: never) the step is multiplied by
  // `step_decay` (the Medical Aegis paper's WB_d: 0.1 after 50 of 100 steps).
  double step_decay = 1.0;
  std::int64_t decay_at = 0;
  // The step size of step t (0-based).
  double step_at(std::int64_t t) const {
    return decay_at > 0 ? step * std::pow(step_decay, static_cast<double>(t / decay_at)) : step;
  }
  // Stop updating a sample once it succeeds (its iterations then count the steps it
  // took); success is judged on the logits of the forward that gave the gradient.
  bool early_stop = false;
};

// The step schedule's parameters (step_decay, decay_at) in an attack's schema, and
// read into a config: one declaration for every iterative attack that offers it.
inline void add_step_schedule(ParamSchema& s) {
  s.add_float("step_decay", 1.0,
              "Step schedule: every decay_at steps the step is multiplied by this factor (the Medical Aegis "
              "paper's WB_d: 0.1 at decay_at = 50)")
      .min_exclusive(0.0)
      .max(1.0);
  s.add_int("decay_at", 0, "Steps between two decays of the step (0: a constant step)").min(0).max(100000);
}

inline void read_step_schedule(const Params& p, IterativeConfig& c) {
  c.step_decay = p.get_float("step_decay");
  c.decay_at = p.get_int("decay_at");
}

// Per-step hooks (DIM, MIM, TIM, ...); empty means identity.
struct StepHooks {
  // DIM: transform the input before the forward (gradient flows through it).
  std::function<torch::Tensor(const torch::Tensor& x, std::int64_t step)> input;
  // MIM (momentum), TIM (smoothing): map the raw gradient before the ascent direction.
  std::function<torch::Tensor(const torch::Tensor& grad, std::int64_t step)> gradient;
};


// `c.steps` ascent steps from `start` (already inside the ball): evaluate the
// gradient, step, project, clip. Samples set in `frozen` ([B] bool, optional) are never
// updated and count no iterations (restarts freeze the samples already solved). One
// final forward without gradients judges success and records the objective. No host
// synchronisation.
inline Outcome iterate(const Problem& p, const torch::Tensor& start, const IterativeConfig& c,
                       const StepHooks& hooks = {}, const torch::Tensor& frozen = {}) {
  const auto& clean = p.clean;
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(clean.device());
  const bool masked = c.early_stop || frozen.defined();
  auto x = start.detach();
  auto iterations = torch::zeros({p.size()}, long_opts);
  auto active = frozen.defined() ? frozen.logical_not() : torch::ones({p.size()}, long_opts.dtype(torch::kBool));
  for (std::int64_t t = 0; t < c.steps; ++t) {
    InputTransform transform;
    if (hooks.input) transform = [&hooks, t](const torch::Tensor& in) { return hooks.input(in, t); };
    const auto e = evaluate_with_grad(p, x, transform);
    const auto grad = hooks.gradient ? hooks.gradient(e.grad, t) : e.grad;
    auto next = ascent_step(x, grad, clean, c.norm, c.step_at(t), c.epsilon);
    if (c.early_stop)
      active = active.logical_and(p.objective->success(e.logits, p.labels, p.targets).logical_not());
    if (masked) {
      x = torch::where(per_sample(active, x), next, x);
      iterations += active.to(torch::kLong);
    } else {
      x = next;
    }
  }
  if (!masked) iterations.fill_(c.steps);
  const auto last = evaluate(p, x);
  return {x.detach(), p.objective->success(last.logits, p.labels, p.targets).to(torch::kBool), last.value,
          iterations};
}

// Merges `candidate` into `best`, per sample: a success replaces a failure; between
// failures the higher objective wins; an earlier success is kept. Iterations add up
// (total steps spent on the sample).
inline void keep_best(Outcome& best, const Outcome& candidate) {
  const auto take = best.success.logical_not().logical_and(
      candidate.success.logical_or(candidate.value > best.value));
  best.adversarial = torch::where(per_sample(take, best.adversarial), candidate.adversarial, best.adversarial);
  best.value = torch::where(take, candidate.value, best.value);
  best.success = best.success.logical_or(candidate.success);
  best.iterations = best.iterations + candidate.iterations;
}

// Runs `attempt(restart, frozen)` for restart 0 with nothing frozen, then for each later
// restart with the samples already solved frozen, keeping the best per sample. Stops
// early when every sample is solved: one host synchronisation per restart, none per
// step.
using Attempt = std::function<Outcome(std::int64_t restart, const torch::Tensor& frozen)>;

inline Outcome best_of_restarts(std::int64_t restarts, const Attempt& attempt) {
  Outcome best = attempt(0, torch::Tensor());
  for (std::int64_t r = 1; r < restarts; ++r) {
    if (best.success.all().item<bool>()) break;
    keep_best(best, attempt(r, best.success));
  }
  return best;
}

inline AttackResult to_result(const Outcome& o) {
  AttackResult r;
  r.adversarial = o.adversarial.detach();
  r.success = o.success.to(torch::kBool);
  r.iterations = o.iterations.to(torch::kLong);
  r.queries = torch::zeros_like(r.iterations);
  return r;
}

}  // namespace medadv::white_box
