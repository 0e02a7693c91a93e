#pragma once
// ZOO (Chen, Zhang, Sharma, Yi and Hsieh, AISec 2017, "ZOO: Zeroth Order Optimization
// based Black-box Attacks"), ZOO-ADAM: coordinate descent whose partial derivatives are
// symmetric finite differences of a loss read from the oracle's probabilities.
//
// - Loss (minimised): the paper's f on log probabilities (the logits up to a per-row
//   constant), untargeted max(log p_y - max_{k!=y} log p_k, -kappa), targeted
//   max(max_{k!=t} log p_k - log p_t, -kappa); kappa 0 by default.
// - Per iteration each running sample draws `coordinates` distinct coordinates (of its
//   C H W) at random; each partial is (L(x + h e_j) - L(x - h e_j)) / (x_j^+ - x_j^-), the
//   probes clipped to [0,1] and the division by the distance actually probed (2 h inside
//   the box), h = 1e-4 as the paper. Adam (the paper's Algorithm 2: lr 0.01, beta1 0.9,
//   beta2 0.999, epsilon 1e-8, a step count per coordinate for the bias correction) moves
//   those coordinates, which are then clipped to the L-inf ball of radius `epsilon` (when
//   epsilon > 0) and to [0,1].
// - Not the paper's: no distortion term c ||delta||^2 (the ball bounds the perturbation
//   instead, as every attack on the epsilon axis; epsilon = 0 leaves only [0,1]), no
//   tanh change of variables, no attack-space resizing, hierarchy or importance sampling.
// - Queries: one for the clean image, then 2 per coordinate and one for the new iterate
//   (success and early stop): 2 m + 1 per iteration. A sample whose budget leaves fewer
//   takes its last iteration with the coordinates that fit, (left - 1) / 2.
// Batched: one oracle call per iteration holds every probe of every running sample
// (`owners` repeat each sample's row), one more the new iterates.
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

struct ZooConfig {
  double epsilon = 8.0 / 255;  // 0: no ball, only [0,1]
  std::int64_t coordinates = 128;
  double h = 1e-4;
  double lr = 0.01;
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  double kappa = 0.0;
  std::int64_t max_queries = 5000;
};

// The paper's f per row [R]: max(log p_y - max_{k!=y} log p_k, -kappa) untargeted,
// max(max_{k!=t} log p_k - log p_t, -kappa) targeted.
inline torch::Tensor zoo_loss(const torch::Tensor& probs, const torch::Tensor& labels, const torch::Tensor& targets,
                              bool targeted, double kappa) {
  const auto logp = log_probabilities(probs);
  const auto f = targeted ? -margin_per_sample(logp, targets) : margin_per_sample(logp, labels);
  return f.clamp_min(-kappa);
}

// The loss of probe rows [V,K]; `which` [V] (int64 on the probes' device) are the probes'
// rows in the estimate's `x`.
using ZooLoss = std::function<torch::Tensor(const torch::Tensor& probs, const torch::Tensor& which)>;

// Symmetric finite-difference partials [R,m] of L at the rows `x` [R,C,H,W] of the batch
// samples `rows` (int64 [R], CPU) along the flat coordinates `coords` [R,m] (int64, x's
// device); row r estimates its first counts[r] (int64 [R], CPU) coordinates, spending 2
// queries each through `ledger`, and gets 0 for the rest.
inline torch::Tensor zoo_partials(QueryLedger& ledger, const torch::Tensor& x, const torch::Tensor& rows,
                                  const torch::Tensor& coords, const torch::Tensor& counts, double h,
                                  const ZooLoss& loss) {
  const std::int64_t r = x.size(0), m = coords.size(1);
  const auto device = x.device();
  const auto valid = torch::arange(m, torch::kLong).view({1, m}).lt(counts.view({r, 1}));  // [R,m] CPU
  const auto idx = rows_where(valid.flatten());
  const auto idx_d = idx.to(device);
  const auto local = torch::div(idx, m, "floor");
  const auto local_d = local.to(device);
  const auto base = x.flatten(1).index_select(0, local_d);          // [V,N]
  const auto c = coords.flatten().index_select(0, idx_d).view({-1, 1});  // [V,1]
  const auto at = base.gather(1, c);
  const auto up = (at + h).clamp(0.0, 1.0), down = (at - h).clamp(0.0, 1.0);
  const auto plus = base.scatter(1, c, up), minus = base.scatter(1, c, down);
  std::vector<std::int64_t> shape{-1};
  for (std::int64_t d = 1; d < x.dim(); ++d) shape.push_back(x.size(d));
  const auto owners = rows.index_select(0, local);
  const auto probs = ledger.probabilities(torch::cat({plus, minus}).view(shape), torch::cat({owners, owners}));
  const auto losses = loss(probs, torch::cat({local_d, local_d}));
  const std::int64_t v = idx.numel();
  const auto partial = (losses.slice(0, 0, v) - losses.slice(0, v, 2 * v)) / (up - down).squeeze(1);
  auto out = torch::zeros({r * m}, x.options());
  out.index_copy_(0, idx_d, partial);
  return out.view({r, m});
}

// ZOO-ADAM on the batch through `oracle`: the adversarial images, success, iterations
// and queries per sample.
inline AttackResult run_zoo(Oracle& oracle, const AttackBatch& batch, const Objective& objective, const ZooConfig& c,
                            std::uint64_t seed) {
  check_score_based(oracle, batch, objective, "zoo");
  const auto clean = batch.images.detach();
  const std::int64_t b = clean.size(0);
  const std::int64_t n = clean.numel() / std::max<std::int64_t>(b, 1);
  const std::int64_t m = std::min(c.coordinates, n);
  const auto device = clean.device();
  const bool targeted = objective.targeted();
  const auto& labels = batch.labels;
  const torch::Tensor targets = targeted ? batch.targets : torch::Tensor();

  QueryLedger ledger(oracle, b, c.max_queries);
  auto gen = compat::cpu_generator(seed);
  torch::NoGradGuard no_grad;

  const auto clean_flat = clean.flatten(1);
  auto x = clean_flat.clone();  // [B,N]
  auto adam_m = torch::zeros_like(x), adam_v = torch::zeros_like(x), adam_t = torch::zeros_like(x);
  auto iterations = torch::zeros({b}, torch::kLong);

  const CleanQuery first = query_clean(ledger, clean, labels, targets, objective);
  const auto& started = first.started;
  auto success = first.success;
  auto solved = success.cpu();

  while (true) {
    const auto rows = rows_where(started.logical_and(solved.logical_not()).logical_and(ledger.left() >= 3));
    if (rows.numel() == 0) break;
    const auto rows_d = rows.to(device);
    const std::int64_t r = rows.numel();
    const auto counts = torch::div(ledger.left().index_select(0, rows) - 1, 2, "floor").clamp_max(m);
    // m distinct coordinates per sample, uniformly at random.
    const auto coords = std::get<1>(torch::rand({r, n}, gen, torch::TensorOptions().dtype(torch::kFloat)).topk(m, 1))
                            .to(device);
    const auto labels_r = labels.index_select(0, rows_d), targets_r = pick_rows(targets, rows_d);
    const ZooLoss loss = [&](const torch::Tensor& probs, const torch::Tensor& which) {
      return zoo_loss(probs, labels_r.index_select(0, which), pick_rows(targets_r, which), targeted, c.kappa);
    };
    const auto xr = x.index_select(0, rows_d);
    const auto g = zoo_partials(ledger, xr.view({r, clean.size(1), clean.size(2), clean.size(3)}), rows, coords,
                                counts, c.h, loss);
    const auto valid = torch::arange(m, torch::kLong).view({1, m}).lt(counts.view({r, 1})).to(device);

    // Adam on the chosen coordinates (the paper's Algorithm 2).
    auto mr = adam_m.index_select(0, rows_d), vr = adam_v.index_select(0, rows_d), tr = adam_t.index_select(0, rows_d);
    const auto m_old = mr.gather(1, coords), v_old = vr.gather(1, coords), t_old = tr.gather(1, coords);
    const auto m_new = torch::where(valid, c.beta1 * m_old + (1 - c.beta1) * g, m_old);
    const auto v_new = torch::where(valid, c.beta2 * v_old + (1 - c.beta2) * g * g, v_old);
    const auto t_new = torch::where(valid, t_old + 1, t_old);
    const auto m_hat = m_new / (1 - torch::pow(c.beta1, t_new.clamp_min(1)));
    const auto v_hat = v_new / (1 - torch::pow(c.beta2, t_new.clamp_min(1)));
    const auto step = torch::where(valid, -c.lr * m_hat / (v_hat.sqrt() + c.adam_eps), torch::zeros_like(m_hat));
    auto moved = xr.gather(1, coords) + step;
    if (c.epsilon > 0) {
      const auto origin = clean_flat.index_select(0, rows_d).gather(1, coords);
      moved = torch::max(torch::min(moved, origin + c.epsilon), origin - c.epsilon);
    }
    moved = moved.clamp(0.0, 1.0);
    adam_m.index_copy_(0, rows_d, mr.scatter(1, coords, m_new));
    adam_v.index_copy_(0, rows_d, vr.scatter(1, coords, v_new));
    adam_t.index_copy_(0, rows_d, tr.scatter(1, coords, t_new));
    const auto next = xr.scatter(1, coords, moved);

    const auto probs = ledger.probabilities(next.view({r, clean.size(1), clean.size(2), clean.size(3)}), rows);
    success.index_copy_(0, rows_d, objective.success(log_probabilities(probs), labels_r, targets_r).to(torch::kBool));
    x.index_copy_(0, rows_d, next);
    iterations.index_add_(0, rows, torch::ones({r}, torch::kLong));
    solved = success.cpu();
  }
  return {x.view_as(clean).detach(), success.clone(), iterations, ledger.spent().clone()};
}

class Zoo : public Attack {
 public:
  static void schema(ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255",
                  "Radius of the L-inf ball around the clean image, in pixel units ([0,1] images); every moved "
                  "coordinate is clipped to it. 0: no ball, only [0,1] (the paper bounds nothing and penalises "
                  "the L2 distortion instead; that term is not offered)")
        .max(1.0);
    s.add_int("coordinates", 128,
              "Coordinates (pixels of one channel) estimated and moved per iteration: the paper's batch of 128. "
              "Each costs 2 queries, so an iteration costs 2 * coordinates + 1")
        .min(1)
        .max(1000000);
    s.add_float("h", 1e-4, "Finite-difference step per coordinate, in [0,1] pixel units (the paper's 1e-4)")
        .min_exclusive(0.0)
        .max(0.5);
    s.add_float("lr", 0.01, "Adam's learning rate (the paper's 0.01; its betas 0.9 and 0.999 are fixed)")
        .min_exclusive(0.0)
        .max(1.0);
    s.add_float("kappa", 0.0,
                "Confidence of the paper's loss max(margin, -kappa) on log probabilities; the attack stops at "
                "the Objective's success, so kappa only shapes the loss")
        .min(0.0)
        .max(1000.0);
    s.add_int("max_queries", 5000,
              "Query budget per image (one for the clean image, then 2 * coordinates + 1 per iteration); the "
              "host counts and enforces it")
        .min(1)
        .max(10000000);
  }

  Zoo(const Params& p, RunContext&) {
    config_.epsilon = p.get_float("epsilon");
    config_.coordinates = p.get_int("coordinates");
    config_.h = p.get_float("h");
    config_.lr = p.get_float("lr");
    config_.kappa = p.get_float("kappa");
    config_.max_queries = p.get_int("max_queries");
  }

  void check_task(const ModelSpec& task) const override { refuse_non_classification(task, "zoo"); }

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext& ctx) override {
    return run_zoo(capability.oracle(), batch, objective, config_, ctx.seed_for("zoo/coordinates"));
  }

  const ZooConfig& config() const { return config_; }

 private:
  ZooConfig config_;
};

}  // namespace medadv::plugins::blackbox
