#pragma once
// NES (Ilyas, Engstrom, Athalye and Lin, ICML 2018, "Black-box Adversarial Attacks with
// Limited Queries and Information"): projected gradient descent whose gradient is
// estimated from the oracle's probabilities by natural evolution strategies.
//
// - Estimate: n antithetic pairs x + sigma u, x - sigma u with u ~ N(0, I) (the paper's
//   sigma 0.001 and 50 pairs), g = 1/(2 n sigma) sum_i (L(x + sigma u_i) - L(x - sigma u_i)) u_i.
//   The probes are clipped to [0,1] (the oracle only ever sees images).
// - Loss L (minimised), read from the oracle's probabilities: untargeted the margin
//   log p_y - max_{k!=y} log p_k (the logits' margin, as Square), targeted the
//   cross-entropy -log p_t (the paper's targeted loss).
// - Step: L-inf x <- x - step sign(g) (the paper's PGD), L2 x <- x - step g / ||g||_2; then
//   the projection onto the epsilon ball and a clip to [0,1].
// - Queries: one for the clean image (a sample already misclassified stops there), then
//   per step 2 n for the estimate and one for the new iterate, which decides success (the
//   Objective's test) and early stop: 2 n + 1 per step. A sample whose budget leaves fewer
//   than 2 n + 1 takes its last step with the pairs that fit, (left - 1) / 2, and stops
//   when not even one pair and the check fit.
// Batched: one oracle call per step holds every probe of every sample still running
// (`owners` repeat each sample's row 2 n times), one more the new iterates.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include <medadv/attack.h>
#include <medadv/params.h>
#include <medadv/perturbation.h>
#include <medadv/torch_compat.h>

#include "score_based.h"

namespace medadv::plugins::blackbox {

struct NesConfig {
  perturbation::Norm norm = perturbation::Norm::Linf;
  double epsilon = 8.0 / 255;
  double step = 2.0 / 255;
  double sigma = 0.001;
  std::int64_t samples = 50;  // antithetic pairs per estimate
  std::int64_t max_queries = 5000;
};

// The loss of probe rows [V,K]: `which` [V] (int64 on the probes' device) are the probes'
// rows in the estimate's `x`.
using NesLoss = std::function<torch::Tensor(const torch::Tensor& probs, const torch::Tensor& which)>;

// The NES estimate of dL/dx for the rows `x` [R,C,H,W] of the batch samples `rows` (int64
// [R], CPU): row r uses pairs[r] (int64 [R], CPU, 1 <= pairs[r]) antithetic pairs and
// spends 2 pairs[r] queries through `ledger`. The noise is drawn on the CPU from `gen`.
inline torch::Tensor nes_gradient(QueryLedger& ledger, const torch::Tensor& x, const torch::Tensor& rows,
                                  const torch::Tensor& pairs, double sigma, const NesLoss& loss, at::Generator& gen) {
  const std::int64_t r = x.size(0);
  const std::int64_t n = pairs.max().item<std::int64_t>();
  const auto device = x.device();
  std::vector<std::int64_t> shape{r, n};
  for (std::int64_t d = 1; d < x.dim(); ++d) shape.push_back(x.size(d));
  const auto u = torch::randn(shape, gen, torch::TensorOptions().dtype(torch::kFloat)).to(device, x.scalar_type());
  const auto valid = torch::arange(n, torch::kLong).view({1, n}).lt(pairs.view({r, 1}));  // [R,n] CPU
  const auto idx = rows_where(valid.flatten());
  const auto idx_d = idx.to(device);
  const auto local = torch::div(idx, n, "floor");
  const auto centre = x.unsqueeze(1);
  const auto plus = (centre + sigma * u).flatten(0, 1).index_select(0, idx_d).clamp(0.0, 1.0);
  const auto minus = (centre - sigma * u).flatten(0, 1).index_select(0, idx_d).clamp(0.0, 1.0);
  const auto owners = rows.index_select(0, local);
  const auto probs = ledger.probabilities(torch::cat({plus, minus}), torch::cat({owners, owners}));
  const auto local_d = local.to(device);
  const auto losses = loss(probs, torch::cat({local_d, local_d}));
  const std::int64_t v = idx.numel();
  auto diff = torch::zeros({r * n}, x.options());
  diff.index_copy_(0, idx_d, losses.slice(0, 0, v) - losses.slice(0, v, 2 * v));
  std::vector<std::int64_t> weight_shape{r, n};
  for (std::int64_t d = 1; d < x.dim(); ++d) weight_shape.push_back(1);
  const auto sum = (diff.view(weight_shape) * u).sum(1);
  const auto scale = (2.0 * sigma) * pairs.to(device, x.scalar_type());
  return sum / perturbation::per_sample(scale, sum);
}

// NES on the batch through `oracle`: the adversarial images, success, steps taken and
// queries per sample.
inline AttackResult run_nes(Oracle& oracle, const AttackBatch& batch, const Objective& objective, const NesConfig& c,
                            std::uint64_t seed) {
  check_score_based(oracle, batch, objective, "nes");
  const auto clean = batch.images.detach();
  const std::int64_t b = clean.size(0);
  const auto device = clean.device();
  const bool targeted = objective.targeted();
  const auto& labels = batch.labels;
  const torch::Tensor targets = targeted ? batch.targets : torch::Tensor();

  QueryLedger ledger(oracle, b, c.max_queries);
  auto gen = compat::cpu_generator(seed);
  torch::NoGradGuard no_grad;

  auto x = clean.clone();
  auto iterations = torch::zeros({b}, torch::kLong);

  const CleanQuery first = query_clean(ledger, clean, labels, targets, objective);
  const auto& started = first.started;
  auto success = first.success;
  auto solved = success.cpu();

  while (true) {
    // A step needs one pair (two queries) and the check (one).
    const auto rows = rows_where(started.logical_and(solved.logical_not()).logical_and(ledger.left() >= 3));
    if (rows.numel() == 0) break;
    const auto rows_d = rows.to(device);
    const auto pairs = torch::div(ledger.left().index_select(0, rows) - 1, 2, "floor").clamp_max(c.samples);
    const auto x0 = clean.index_select(0, rows_d), xr = x.index_select(0, rows_d);
    const auto labels_r = labels.index_select(0, rows_d), targets_r = pick_rows(targets, rows_d);
    const NesLoss loss = [&](const torch::Tensor& probs, const torch::Tensor& which) {
      return margin_or_target_ce(probs, labels_r.index_select(0, which), pick_rows(targets_r, which), targeted);
    };
    const auto g = nes_gradient(ledger, xr, rows, pairs, c.sigma, loss, gen);
    // Descent on L: minus the ascent direction.
    const auto next = perturbation::project_and_clip(xr - c.step * perturbation::ascent_direction(g, c.norm), x0,
                                                     c.norm, c.epsilon);
    const auto probs = ledger.probabilities(next, rows);
    success.index_copy_(0, rows_d, objective.success(log_probabilities(probs), labels_r, targets_r).to(torch::kBool));
    x.index_copy_(0, rows_d, next);
    iterations.index_add_(0, rows, torch::ones({rows.numel()}, torch::kLong));
    solved = success.cpu();
  }
  return {x.detach(), success.clone(), iterations, ledger.spent().clone()};
}

class Nes : public Attack {
 public:
  static void schema(ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255",
                  "Radius of the norm ball around the clean image, in pixel units ([0,1] images); for norm = l2 "
                  "give an L2 radius");
    s.add_enum<perturbation::Norm>("norm", perturbation::norm_names(), perturbation::Norm::Linf,
                                   "Norm of the perturbation ball and of the step (linf: sign of the estimate, "
                                   "the paper's PGD; l2: the estimate scaled to length `step`)");
    perturbation::add_linf_epsilon_check(s);
    s.add_epsilon("step", "2/255",
                  "Size of each PGD step on the estimated gradient (L-inf: per pixel; l2: the step's L2 "
                  "length). One step costs 2 * samples + 1 queries, so the default budget allows 49 steps")
        .min_exclusive(0.0);
    s.add_float("sigma", 0.001,
                "Standard deviation of the Gaussian probes x +- sigma u, in [0,1] pixel units (the paper's 0.001)")
        .min_exclusive(0.0)
        .max(1.0);
    s.add_int("samples", 50, "Antithetic pairs per gradient estimate (the paper's 50: 100 queries per estimate)")
        .min(1)
        .max(100000);
    s.add_int("max_queries", 5000,
              "Query budget per image (one for the clean image, then 2 * samples + 1 per step); the host "
              "counts and enforces it")
        .min(1)
        .max(10000000);
  }

  Nes(const Params& p, RunContext&) {
    config_.norm = p.get_enum<perturbation::Norm>("norm");
    config_.epsilon = p.get_float("epsilon");
    config_.step = p.get_float("step");
    config_.sigma = p.get_float("sigma");
    config_.samples = p.get_int("samples");
    config_.max_queries = p.get_int("max_queries");
  }

  void check_task(const ModelSpec& task) const override { refuse_non_classification(task, "nes"); }

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext& ctx) override {
    return run_nes(capability.oracle(), batch, objective, config_, ctx.seed_for("nes/probes"));
  }

  const NesConfig& config() const { return config_; }

 private:
  NesConfig config_;
};

}  // namespace medadv::plugins::blackbox
