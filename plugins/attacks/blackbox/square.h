#pragma once
// Square attack (Andriushchenko, Croce, Flammarion and Hein, ECCV 2020): score-based
// random search. Every iteration changes one random square window of the current
// perturbation and keeps the change when the loss, read from the oracle's
// probabilities, goes down.
//
// - Loss: untargeted, the margin log p_y - max_{k!=y} log p_k (the logits' margin: log
//   probabilities are logits up to a per-row constant); targeted, the cross-entropy
//   -log p_t to the target, as in the paper and the authors' code. A sample succeeds as
//   the experiment's Objective says (untargeted: the prediction leaves the label;
//   targeted: it reaches the target) and then stops: it makes no further queries.
// - L-inf: starts from vertical stripes (every column of every channel +eps or -eps);
//   an iteration sets a window of side s = round(sqrt(p * H * W)) (1 <= s <= min(H, W)-1)
//   to +-eps per channel, redrawing the signs when they would leave the window as it is
//   (as the authors' code: a query is never spent on an unchanged image). Windows and
//   signs are drawn per sample.
// - L2: starts from a 5 x 5 grid of pseudo-Gaussian bumps (side min(H, W) / 5, a random
//   sign per bump and channel) scaled to norm eps; an iteration moves the mass of a second
//   window into the first (odd side s >= 3) with a fresh bump, then rescales the whole
//   perturbation to norm eps (the authors' square_attack_l2). Windows are shared by the
//   batch in an iteration, signs are per sample, as in their code.
// - p halves at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of a 10000
//   budget, rescaled to `max_queries` (square_p_selection). One query for the start, one
//   per iteration: a sample makes at most max_queries queries.
// - Every step ends with a projection onto the ball and a clip to [0,1].
// Batched: one oracle call per iteration holds the samples still unsolved and within
// budget (`owners` are their batch rows), so queries are counted per sample.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <medadv/attack.h>
#include <medadv/params.h>
#include <medadv/perturbation.h>
#include <medadv/torch_compat.h>

#include "score_based.h"

namespace medadv::plugins::blackbox {

using medadv::perturbation::add_linf_epsilon_check;
using medadv::perturbation::Norm;
using medadv::perturbation::norm_names;
using medadv::perturbation::per_sample;

// The fraction p of the image a window covers at iteration `it` (0-based, after the
// start) of `n_iters`: the authors' p_selection with its rescaling
// it' = floor(it / n_iters * 10000), computed in integers (exact), and p_init / 512 from
// it' > 8000 on (the authors' first version falls back to p_init past 10000; their later
// code and AutoAttack keep p_init / 512).
inline double square_p_selection(double p_init, std::int64_t it, std::int64_t n_iters) {
  const std::int64_t i = n_iters > 0 ? it * 10000 / n_iters : it;
  if (i <= 10) return p_init;
  if (i <= 50) return p_init / 2;
  if (i <= 200) return p_init / 4;
  if (i <= 500) return p_init / 8;
  if (i <= 1000) return p_init / 16;
  if (i <= 2000) return p_init / 32;
  if (i <= 4000) return p_init / 64;
  if (i <= 6000) return p_init / 128;
  if (i <= 8000) return p_init / 256;
  return p_init / 512;
}

// Python's round() (half to even), which the authors' window sides use.
inline std::int64_t square_round(double v) { return static_cast<std::int64_t>(std::nearbyint(v)); }

// The L-inf window side for p on H x W images: round(sqrt(p H W)), in [1, min(H, W) - 1].
inline std::int64_t square_side_linf(double p, std::int64_t h, std::int64_t w) {
  const std::int64_t s = square_round(std::sqrt(p * static_cast<double>(h * w)));
  return std::max<std::int64_t>(1, std::min(s, std::min(h, w) - 1));
}

// The L2 window side: max(round(sqrt(p H W)), 3), made odd, at most min(H, W).
inline std::int64_t square_side_l2(double p, std::int64_t h, std::int64_t w) {
  std::int64_t s = std::max<std::int64_t>(square_round(std::sqrt(p * static_cast<double>(h * w))), 3);
  if (s % 2 == 0) ++s;
  const std::int64_t limit = std::min(h, w);
  if (s > limit) s = limit % 2 == 1 ? limit : limit - 1;
  return std::max<std::int64_t>(s, 1);
}

// The authors' pseudo_gaussian_pert_rectangles(x, y): nested rectangles around the
// centre, ring k weighted 1 / (k+1)^2, normalised to unit L2 norm. [x, y] double.
inline torch::Tensor square_pseudo_gaussian_rectangles(std::int64_t x, std::int64_t y) {
  auto delta = torch::zeros({x, y}, torch::kDouble);
  if (x <= 0 || y <= 0) return delta;
  const std::int64_t xc = x / 2 + 1, yc = y / 2 + 1;
  std::int64_t c0 = xc - 1, c1 = yc - 1;
  for (std::int64_t k = 0; k < std::max(xc, yc); ++k) {
    const std::int64_t r0 = std::max<std::int64_t>(c0, 0), r1 = std::min(c0 + 2 * k + 1, x);
    const std::int64_t q0 = std::max<std::int64_t>(c1, 0), q1 = std::min(c1 + 2 * k + 1, y);
    if (r1 > r0 && q1 > q0) delta.slice(0, r0, r1).slice(1, q0, q1) += 1.0 / static_cast<double>((k + 1) * (k + 1));
    --c0;
    --c1;
  }
  return delta / delta.pow(2).sum().sqrt();
}

// The authors' meta_pseudo_gaussian_pert(s): the upper half a positive bump, the lower
// half a negative one, unit L2 norm, transposed with probability 1/2. [s, s] double.
inline torch::Tensor square_bump(std::int64_t s, at::Generator& gen) {
  auto delta = torch::zeros({s, s}, torch::kDouble);
  const std::int64_t half = s / 2;
  if (half > 0) delta.slice(0, 0, half).copy_(square_pseudo_gaussian_rectangles(half, s));
  delta.slice(0, half, s).copy_(-square_pseudo_gaussian_rectangles(s - half, s));
  delta = delta / delta.pow(2).sum().sqrt();
  if (torch::rand({1}, gen).item<double>() > 0.5) delta = delta.t().contiguous();
  return delta;
}

struct SquareConfig {
  Norm norm = Norm::Linf;
  double epsilon = 8.0 / 255;
  double p_init = 0.8;
  std::int64_t max_queries = 5000;
};

// Random signs +-1 of `shape`, drawn on the CPU from `gen`.
inline torch::Tensor square_signs(at::IntArrayRef shape, at::Generator& gen) {
  return torch::randint(0, 2, shape, gen, torch::TensorOptions().dtype(torch::kFloat)) * 2 - 1;
}

// The loss Square minimises and whether each row reached the objective's goal.
struct SquareScores {
  torch::Tensor loss;     // [R]
  torch::Tensor success;  // [R] bool
};

inline SquareScores square_scores(const torch::Tensor& probs, const torch::Tensor& labels, const torch::Tensor& targets,
                                  const Objective& objective) {
  const auto logp = log_probabilities(probs);
  SquareScores out;
  out.loss = objective.targeted() ? -class_probability(logp, targets) : margin_per_sample(logp, labels);
  out.success = objective.success(logp, labels, targets).to(torch::kBool);
  return out;
}

// The starting points (clipped to [0,1], inside the ball) for the whole batch.
inline torch::Tensor square_start(const torch::Tensor& clean, const SquareConfig& c, at::Generator& gen) {
  const std::int64_t b = clean.size(0), ch = clean.size(1), h = clean.size(2), w = clean.size(3);
  if (c.norm == Norm::Linf) {
    const auto stripes = square_signs({b, ch, 1, w}, gen) * c.epsilon;
    return (clean + stripes.to(clean.device(), clean.scalar_type())).clamp(0.0, 1.0);
  }
  auto delta = torch::zeros({b, ch, h, w}, torch::kDouble);
  const std::int64_t s = std::max<std::int64_t>(std::min(h, w) / 5, 1);
  const std::int64_t start_h = std::max<std::int64_t>((h - 5 * s) / 2, 0);
  const std::int64_t start_w = std::max<std::int64_t>((w - 5 * s) / 2, 0);
  for (std::int64_t i = 0; i < h / s; ++i) {
    for (std::int64_t j = 0; j < w / s; ++j) {
      const std::int64_t top = start_h + i * s, left = start_w + j * s;
      if (top + s > h || left + s > w) continue;
      const auto bump = square_bump(s, gen).view({1, 1, s, s});
      const auto signs = square_signs({b, ch, 1, 1}, gen).to(torch::kDouble);
      delta.slice(2, top, top + s).slice(3, left, left + s) += bump * signs;
    }
  }
  const auto norms = delta.flatten(1).norm(2, 1).clamp_min(perturbation::kTiny);
  delta = delta / per_sample(norms, delta) * c.epsilon;
  return (clean + delta.to(clean.device(), clean.scalar_type())).clamp(0.0, 1.0);
}

// One L-inf candidate per row: windows at (top, left) [R] of side s set to
// clip(x0 + sign * eps), signs [R,C] redrawn (by `flips`, [R,C] 0/1 with at least one 1)
// where they would change nothing.
inline torch::Tensor square_linf_candidate(const torch::Tensor& x0, const torch::Tensor& best, double eps, std::int64_t s,
                                           const torch::Tensor& top, const torch::Tensor& left,
                                           const torch::Tensor& signs, const torch::Tensor& flips) {
  const std::int64_t r = x0.size(0), ch = x0.size(1), h = x0.size(2), w = x0.size(3);
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(x0.device());
  const auto rows = torch::arange(h, long_opts).view({1, 1, h, 1});
  const auto cols = torch::arange(w, long_opts).view({1, 1, 1, w});
  const auto t = top.view({r, 1, 1, 1}), l = left.view({r, 1, 1, 1});
  const auto window = (rows >= t).logical_and(rows < t + s).logical_and(cols >= l).logical_and(cols < l + s);
  auto sign = signs.view({r, ch, 1, 1});
  const auto same = ((x0 + sign * eps).clamp(0.0, 1.0) - best).abs().lt(1e-7).logical_or(window.logical_not());
  const auto unchanged = same.flatten(1).all(1);
  sign = torch::where(per_sample(unchanged, sign), sign * (1 - 2 * flips.view({r, ch, 1, 1})), sign);
  return torch::where(window, (x0 + sign * eps).clamp(0.0, 1.0), best);
}

// One L2 candidate per row: the authors' update with windows shared by the rows.
inline torch::Tensor square_l2_candidate(const torch::Tensor& x0, const torch::Tensor& best, double eps, std::int64_t s,
                                         std::int64_t top, std::int64_t left, std::int64_t top2, std::int64_t left2,
                                         const torch::Tensor& bump, const torch::Tensor& signs) {
  const std::int64_t r = x0.size(0), ch = x0.size(1), h = x0.size(2), w = x0.size(3);
  const auto opts = x0.options();
  auto delta = best - x0;
  auto mask1 = torch::zeros({1, 1, h, w}, opts), mask2 = torch::zeros({1, 1, h, w}, opts);
  mask1.slice(2, top, top + s).slice(3, left, left + s).fill_(1.0);
  mask2.slice(2, top2, top2 + s).slice(3, left2, left2 + s).fill_(1.0);
  const auto window_sum = [](const torch::Tensor& t) { return t.pow(2).sum({2, 3}, true).sqrt(); };
  const auto norm_window1 = window_sum(delta * mask1);                           // [R,C,1,1]
  const auto norm_image = delta.pow(2).sum({1, 2, 3}, true).sqrt();              // [R,1,1,1]
  const auto norm_windows = window_sum(delta * torch::max(mask1, mask2));        // [R,C,1,1]
  auto fresh = bump.view({1, 1, s, s}) * signs.view({r, ch, 1, 1});
  fresh = fresh + delta.slice(2, top, top + s).slice(3, left, left + s) / (1e-10 + norm_window1);
  const auto room = ((eps * eps - norm_image.pow(2)).clamp_min(0.0) / static_cast<double>(ch) + norm_windows.pow(2)).sqrt();
  fresh = fresh / window_sum(fresh).clamp_min(perturbation::kTiny) * room;
  delta = delta.clone();
  delta.slice(2, top2, top2 + s).slice(3, left2, left2 + s).zero_();
  delta.slice(2, top, top + s).slice(3, left, left + s).copy_(fresh);
  const auto norms = delta.flatten(1).norm(2, 1).clamp_min(perturbation::kTiny);
  return (x0 + delta / per_sample(norms, delta) * eps).clamp(0.0, 1.0);
}

// Square on the batch through `oracle`: the adversarial images, success, iterations
// (after the start) and queries per sample.
inline AttackResult run_square(Oracle& oracle, const AttackBatch& batch, const Objective& objective,
                               const SquareConfig& c, std::uint64_t seed) {
  check_score_based(oracle, batch, objective, "square");
  const auto clean = batch.images.detach();
  const std::int64_t b = clean.size(0), ch = clean.size(1), h = clean.size(2), w = clean.size(3);
  const auto device = clean.device();
  const auto& labels = batch.labels;
  const torch::Tensor targets = objective.targeted() ? batch.targets : torch::Tensor();

  QueryLedger ledger(oracle, b, c.max_queries);
  auto gen = compat::cpu_generator(seed);
  torch::NoGradGuard no_grad;

  auto x_best = square_start(clean, c, gen);
  auto loss_best = torch::full({b}, std::numeric_limits<float>::infinity(), clean.options());
  auto success = torch::zeros({b}, torch::TensorOptions().dtype(torch::kBool).device(device));
  auto iterations = torch::zeros({b}, torch::kLong);

  // The start: one query each; a sample with no query left keeps its clean image.
  const auto started = ledger.left() > 0;
  {
    const auto rows = rows_where(started);
    if (rows.numel() > 0) {
      const auto rows_d = rows.to(device);
      const auto scores = square_scores(ledger.probabilities(x_best.index_select(0, rows_d), rows),
                                        labels.index_select(0, rows_d), pick_rows(targets, rows_d), objective);
      loss_best.index_copy_(0, rows_d, scores.loss);
      success.index_copy_(0, rows_d, scores.success);
    }
    x_best = torch::where(per_sample(started.to(device), x_best), x_best, clean);
  }
  auto solved = success.cpu();

  const auto flip_bits = [&](std::int64_t n) {
    // A uniform non-zero pattern of channel flips per row: the authors redraw the signs
    // until the window changes, i.e. uniformly among the other 2^C - 1 sign patterns.
    if (ch <= 30) {
      const auto code = torch::randint(1, std::int64_t{1} << ch, {n, 1}, gen, torch::TensorOptions().dtype(torch::kLong));
      const auto powers = torch::pow(2, torch::arange(ch, torch::kLong)).view({1, ch});
      return torch::div(code, powers, "floor").remainder(2).to(torch::kFloat);
    }
    auto bits = torch::randint(0, 2, {n, ch}, gen, torch::TensorOptions().dtype(torch::kFloat));
    const auto none = bits.sum(1).eq(0);
    const auto forced = torch::randint(0, ch, {n}, gen, torch::TensorOptions().dtype(torch::kLong));
    return torch::where(none.view({n, 1}), torch::one_hot(forced, ch).to(torch::kFloat), bits);
  };

  for (std::int64_t i = 0; i + 1 < c.max_queries; ++i) {
    const auto rows = rows_where(started.logical_and(solved.logical_not()).logical_and(ledger.left() > 0));
    if (rows.numel() == 0) break;
    const double p = square_p_selection(c.p_init, i, c.max_queries);
    const auto rows_d = rows.to(device);
    const auto x0 = clean.index_select(0, rows_d), best = x_best.index_select(0, rows_d);
    torch::Tensor candidate;
    if (c.norm == Norm::Linf) {
      const std::int64_t s = square_side_linf(p, h, w);
      // Drawn for every sample of the batch, so a sample's draws do not depend on which
      // others are still running.
      const auto long_opts = torch::TensorOptions().dtype(torch::kLong);
      const auto top = torch::randint(0, h - s + 1, {b}, gen, long_opts);
      const auto left = torch::randint(0, w - s + 1, {b}, gen, long_opts);
      const auto signs = square_signs({b, ch}, gen);
      const auto flips = flip_bits(b);
      const auto on = [&](const torch::Tensor& t) { return t.index_select(0, rows).to(device); };
      candidate = square_linf_candidate(x0, best, c.epsilon, s, on(top), on(left), on(signs).to(clean.scalar_type()),
                                        on(flips).to(clean.scalar_type()));
    } else {
      const std::int64_t s = square_side_l2(p, h, w);
      // Drawn on the CPU generator: no device synchronisation.
      const auto corner = [&](std::int64_t extent) {
        return torch::randint(0, extent - s + 1, {1}, gen, torch::TensorOptions().dtype(torch::kLong)).item<std::int64_t>();
      };
      const std::int64_t top = corner(h), left = corner(w), top2 = corner(h), left2 = corner(w);
      const auto bump = square_bump(s, gen).to(device, clean.scalar_type());
      const auto signs = square_signs({b, ch}, gen).index_select(0, rows).to(device, clean.scalar_type());
      candidate = square_l2_candidate(x0, best, c.epsilon, s, top, left, top2, left2, bump, signs);
    }
    const auto scores = square_scores(ledger.probabilities(candidate, rows), labels.index_select(0, rows_d),
                                      pick_rows(targets, rows_d), objective);
    // Kept when the loss goes down, or when it reaches the goal (then the sample is done).
    const auto keep = scores.loss.lt(loss_best.index_select(0, rows_d)).logical_or(scores.success);
    x_best.index_copy_(0, rows_d, torch::where(per_sample(keep, candidate), candidate, best));
    loss_best.index_copy_(0, rows_d, torch::where(keep, scores.loss, loss_best.index_select(0, rows_d)));
    success.index_copy_(0, rows_d, scores.success);
    iterations.index_add_(0, rows, torch::ones({rows.numel()}, torch::kLong));
    solved = success.cpu();
  }
  return {x_best.detach(), success.clone(), iterations, ledger.spent().clone()};
}

class Square : public Attack {
 public:
  static void schema(ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255",
                  "Radius of the norm ball around the clean image, in pixel units ([0,1] images); for norm = l2 "
                  "give an L2 radius (AutoAttack's CIFAR-10 value is 0.5)");
    s.add_enum<Norm>("norm", norm_names(), Norm::Linf, "Norm of the perturbation ball");
    add_linf_epsilon_check(s);
    s.add_float("p_init", 0.8,
                "Initial fraction of the image a square window covers (halved on the paper's schedule); 0.8 as "
                "AutoAttack and the survey (the paper used 0.05 for L-inf and 0.1 for L2 on ImageNet)")
        .min_exclusive(0.0)
        .max(1.0);
    s.add_int("max_queries", 5000,
              "Query budget per image (the start costs one query, every iteration one more); the host counts "
              "and enforces it. 5000 as AutoAttack and the survey; the schedule of p is rescaled to it")
        .min(1)
        .max(10000000);
  }

  Square(const Params& p, RunContext&) {
    config_.norm = p.get_enum<Norm>("norm");
    config_.epsilon = p.get_float("epsilon");
    config_.p_init = p.get_float("p_init");
    config_.max_queries = p.get_int("max_queries");
  }

  void check_task(const ModelSpec& task) const override { refuse_non_classification(task, "square"); }

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext& ctx) override {
    return run_square(capability.oracle(), batch, objective, config_, ctx.seed_for("square/search"));
  }

  const SquareConfig& config() const { return config_; }

 private:
  SquareConfig config_;
};

}  // namespace medadv::plugins::blackbox
