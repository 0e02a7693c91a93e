#pragma once
// Shared machinery of the gradient family (fgsm, pgd; later bim, mim, dim, tim):
// norm-ball projection, ascent directions, random starts, the iterative loop with its
// per-step hooks, and the per-sample bookkeeping of restarts and results.
//
// Conventions (ATTACKS.md): pixel space [0,1]; after every step project onto the norm
// ball around the clean input, then clip to [0,1]; gradients flow to the input only
// (torch::autograd::grad with the input as the only target, so no parameter's .grad is
// touched); no host synchronisation inside the step loop; every tensor lives on the
// device of the clean batch.
//
// Internal to the family: plugins of other folders must not include it.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <medadv/attack.h>
#include <medadv/capabilities.h>
#include <medadv/context.h>
#include <medadv/error.h>
#include <medadv/objective.h>
#include <medadv/torch_compat.h>

namespace medadv::plugins::gradient {

enum class Norm { Linf, L2 };

inline Norm parse_norm(const std::string& name) {
  if (name == "linf") return Norm::Linf;
  if (name == "l2") return Norm::L2;
  throw InvalidInput("unknown norm '" + name + "' (expected linf or l2)");
}
inline const char* norm_name(Norm n) { return n == Norm::Linf ? "linf" : "l2"; }

// Guards divisions by a per-sample norm.
inline constexpr double kTiny = 1e-12;

// A per-sample value [B] shaped to broadcast against `like` [B, ...].
inline torch::Tensor per_sample(const torch::Tensor& v, const torch::Tensor& like) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(like.dim()), 1);
  shape[0] = like.size(0);
  return v.reshape(shape);
}

// ||t_b||_2 per sample, [B].
inline torch::Tensor l2_per_sample(const torch::Tensor& t) { return t.flatten(1).norm(2, 1); }

// t_b / ||t_b||_2 per sample (zero where t_b is zero).
inline torch::Tensor l2_normalize(const torch::Tensor& t) {
  return t / per_sample(l2_per_sample(t).clamp_min(kTiny), t);
}

// The steepest-ascent direction of unit size in `norm` for a gradient: sign(g) for
// L-inf, g / ||g||_2 per sample for L2.
inline torch::Tensor ascent_direction(const torch::Tensor& grad, Norm norm) {
  return norm == Norm::Linf ? grad.sign() : l2_normalize(grad);
}

// Projection of a perturbation onto the ball of radius eps: L-inf clamps every element
// to [-eps, eps]; L2 scales each sample by min(1, eps / ||delta_b||_2).
inline torch::Tensor project_delta(const torch::Tensor& delta, Norm norm, double epsilon) {
  if (norm == Norm::Linf) return delta.clamp(-epsilon, epsilon);
  const auto factor = (epsilon / l2_per_sample(delta).clamp_min(kTiny)).clamp_max(1.0);
  return delta * per_sample(factor, delta);
}

// The convention after every step: project x onto the ball around `clean`, then clip to
// [0,1]. Clipping only shrinks each |delta| element (clean is in [0,1]), so the result
// stays inside the ball.
inline torch::Tensor project_and_clip(const torch::Tensor& x, const torch::Tensor& clean, Norm norm,
                                      double epsilon) {
  return (clean + project_delta(x - clean, norm, epsilon)).clamp(0.0, 1.0);
}

// One ascent step of size `step` along `grad`, then project and clip.
inline torch::Tensor ascent_step(const torch::Tensor& x, const torch::Tensor& grad, const torch::Tensor& clean,
                                 Norm norm, double step, double epsilon) {
  return project_and_clip(x + step * ascent_direction(grad, norm), clean, norm, epsilon);
}

// A random point of the ball around `clean` (then clipped to [0,1]): uniform in
// [-eps, eps] per element for L-inf; for L2 uniform in the ball (a normal direction
// scaled to radius eps * u^(1/d), d the elements per sample). Drawn on the CPU from a
// generator seeded with `seed`, then moved to the batch's device, so that a seed gives
// the same start on every device.
inline torch::Tensor random_start(const torch::Tensor& clean, Norm norm, double epsilon, std::uint64_t seed) {
  auto gen = compat::cpu_generator(seed);
  const auto cpu = torch::TensorOptions().dtype(torch::kFloat);
  torch::Tensor delta;
  if (norm == Norm::Linf) {
    delta = (torch::rand(clean.sizes(), gen, cpu) * 2 - 1) * epsilon;
  } else {
    const auto direction = l2_normalize(torch::randn(clean.sizes(), gen, cpu));
    const double d = static_cast<double>(clean.numel() / std::max<std::int64_t>(clean.size(0), 1));
    const auto radius = torch::rand({clean.size(0)}, gen, cpu).pow(1.0 / d) * epsilon;
    delta = direction * per_sample(radius, direction);
  }
  delta = delta.to(clean.device(), clean.scalar_type());
  return project_and_clip(clean + delta, clean, norm, epsilon);
}

// ---- The attacked problem --------------------------------------------------------

// What every member of the family attacks: the gradient model, the objective, and the
// clean batch. Attacks always run on the whole batch (restarts included), so that
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
// touched (autograd::grad computes only what reaching x needs).
inline Evaluation evaluate_with_grad(const Problem& p, const torch::Tensor& x_adv,
                                     const InputTransform& transform = {}) {
  torch::AutoGradMode grad_mode(true);  // the host may call under NoGradGuard
  auto x = x_adv.detach().requires_grad_(true);
  const auto input = transform ? transform(x) : x;
  const auto out = p.model->forward(input, p.taps);
  const auto value = p.objective->evaluate(out, x, p.labels, p.targets);
  if (!value.requires_grad())
    throw Error("the objective does not depend differentiably on the input (is the model detached from autograd?)");
  auto grads = torch::autograd::grad({value.sum()}, {x}, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                     /*create_graph=*/false, /*allow_unused=*/true);
  auto grad = grads[0].defined() ? grads[0].detach() : torch::zeros_like(x);
  return {value.detach(), out.logits.detach(), grad};
}

// Objective and logits without gradients.
inline Evaluation evaluate(const Problem& p, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  const auto out = p.model->forward(x, p.taps);
  return {p.objective->evaluate(out, x, p.labels, p.targets).detach(), out.logits.detach(), {}};
}

// ---- The iterative loop ----------------------------------------------------------

struct IterativeConfig {
  Norm norm = Norm::Linf;
  double epsilon = 0.0;
  double step = 0.0;
  std::int64_t steps = 1;
  // Stop updating a sample once it succeeds (its iterations then count the steps it
  // took); success is judged on the logits of the forward that gave the gradient.
  bool early_stop = false;
};

// Per-step hooks for the family's later members; empty means identity.
struct StepHooks {
  // DIM: transform the input before the forward (gradient flows through it).
  std::function<torch::Tensor(const torch::Tensor& x, std::int64_t step)> input;
  // MIM (momentum), TIM (smoothing): map the raw gradient before the ascent direction.
  std::function<torch::Tensor(const torch::Tensor& grad, std::int64_t step)> gradient;
};

// Per-sample outcome of one run (or the best over restarts).
struct Outcome {
  torch::Tensor adversarial;  // [B, ...] detached, in the ball and in [0,1]
  torch::Tensor success;      // [B] bool
  torch::Tensor value;        // [B] objective at `adversarial`
  torch::Tensor iterations;   // [B] int64 gradient steps spent
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
    auto next = ascent_step(x, grad, clean, c.norm, c.step, c.epsilon);
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

// ---- Projected gradient ascent with random starts and restarts --------------------

// What pgd (and bim, mim, dim, tim on top of it) runs: `iter` from the clean image or
// a random start, repeated `restarts` times (later restarts update only the samples
// still unsolved).
struct ProjectedSettings {
  IterativeConfig iter;
  bool random_start = true;
  std::int64_t restarts = 1;
  // Restart r draws its start from ctx.seed_for(seed_purpose + std::to_string(r)).
  std::string seed_purpose = "pgd/random-start/";
};

// Hooks for one restart on `problem` (state such as momentum starts afresh).
using HookFactory = std::function<StepHooks(std::int64_t restart, const Problem& problem)>;

inline Outcome run_projected(const Problem& p, const ProjectedSettings& s, RunContext& ctx,
                             const HookFactory& hooks = {}) {
  // Without a random start (and without random hooks) every restart would repeat the
  // first one exactly.
  const std::int64_t restarts = (s.random_start || hooks) ? s.restarts : 1;
  return best_of_restarts(restarts, [&](std::int64_t r, const torch::Tensor& frozen) {
    const auto start = s.random_start ? random_start(p.clean, s.iter.norm, s.iter.epsilon,
                                                     ctx.seed_for(s.seed_purpose + std::to_string(r)))
                                      : p.clean;
    return iterate(p, start, s.iter, hooks ? hooks(r, p) : StepHooks{}, frozen);
  });
}

inline AttackResult to_result(const Outcome& o) {
  AttackResult r;
  r.adversarial = o.adversarial.detach();
  r.success = o.success.to(torch::kBool);
  r.iterations = o.iterations.to(torch::kLong);
  r.queries = torch::zeros_like(r.iterations);
  return r;
}

}  // namespace medadv::plugins::gradient
