#pragma once
// Projected ascent with random starts and restarts, what pgd and the members built on
// it (bim, mim, dim, tim) run. Norm-ball geometry is in medadv/perturbation.h; the
// attacked problem, the iterative loop and per-sample bookkeeping in medadv/white_box.h.
//
// Conventions (ATTACKS.md): pixel space [0,1]; after every step project onto the norm
// ball around the clean input, then clip to [0,1]; gradients flow to the input only
// (torch::autograd::grad with the input as the only target, so no parameter's .grad is
// touched); no host synchronisation inside the step loop; every tensor lives on the
// device of the clean batch.
//
// Internal to the family: plugins of other folders must not include it.
#include <cstdint>
#include <functional>
#include <string>

#include <medadv/perturbation.h>
#include <medadv/white_box.h>

namespace medadv::plugins::gradient {

// The norm-ball geometry and the white-box loop the family is built on.
using medadv::perturbation::add_linf_epsilon_check;
using medadv::perturbation::ascent_direction;
using medadv::perturbation::Norm;
using medadv::perturbation::norm_names;
using medadv::perturbation::project_delta;
using medadv::perturbation::random_start;
using medadv::white_box::best_of_restarts;
using medadv::white_box::evaluate;
using medadv::white_box::evaluate_with_grad;
using medadv::white_box::iterate;
using medadv::white_box::IterativeConfig;
using medadv::white_box::make_problem;
using medadv::white_box::Outcome;
using medadv::white_box::Problem;
using medadv::white_box::StepHooks;
using medadv::white_box::to_result;

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

}  // namespace medadv::plugins::gradient
