#pragma once
// SimBA (Guo, Gardner, You, Wilson and Weinberger, ICML 2019, "Simple Black-box
// Adversarial Attacks"): take the directions q of an orthonormal basis in a random order,
// one per iteration; try x + step q, then x - step q; keep the first that lowers the
// probability of the true class (targeted: raises the target's) and move on.
//
// - Bases: `pixel` (the standard basis: one coordinate of one channel) or `dct` (the 2-D
//   orthonormal DCT-II basis per channel; q is the inverse DCT of one coefficient, a
//   cosine pattern of unit L2 norm). With `order = "strided"` (the paper's SimBA-DCT:
//   the authors' block_order) the DCT directions come in bands of rising frequency: first
//   the freq_dims x freq_dims lowest frequencies of every channel in random order, then
//   each band of `stride` frequencies further out in random order, to the full basis;
//   `order = "random"` draws only from the lowest block (the authors' order "rand").
// - The directions are drawn without replacement (the basis is orthonormal), one order
//   for the batch; a sample stops when it succeeds (the Objective's test on the
//   accepted candidate), when its queries run out, or when the order is exhausted.
// - The perturbation is the sum of the accepted steps, delta = sum_t a_t step q_t with a_t
//   in {-1, 0, 1}; the image is clip(x + delta, 0, 1), as in the authors' simba_batch.
//   After T accepted steps ||delta||_2 = step sqrt(T): SimBA bounds no norm ball (an
//   L2-like attack); the host reports each image's L2 (and L-inf) distance.
// - Queries: one for the clean image's probabilities, then one or two per iteration
//   (the second only when the first direction did not help). Each oracle call holds the
//   samples still running (`owners` are their batch rows): counts are per sample.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include <medadv/attack.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>

#include "score_based.h"

namespace medadv::plugins::blackbox {

enum class SimbaBasis { Pixel, Dct };
enum class SimbaOrder { Strided, Random };

inline EnumNames<SimbaBasis> simba_basis_names() { return {{"pixel", SimbaBasis::Pixel}, {"dct", SimbaBasis::Dct}}; }
inline EnumNames<SimbaOrder> simba_order_names() {
  return {{"strided", SimbaOrder::Strided}, {"random", SimbaOrder::Random}};
}

struct SimbaConfig {
  SimbaBasis basis = SimbaBasis::Dct;
  SimbaOrder order = SimbaOrder::Strided;
  double step = 0.2;
  std::int64_t max_queries = 5000;
  std::int64_t freq_dims = 0;  // 0: one eighth of the image side (the paper's 28 of 224)
  std::int64_t stride = 0;     // 0: one thirty-second of the side (the paper's 7 of 224)
};

// The orthonormal DCT-II matrix [n, n] (double): row k is the k-th basis function,
// D[k][j] = sqrt((k == 0 ? 1 : 2) / n) cos(pi (2j + 1) k / (2n)). The 2-D inverse DCT of a
// coefficient block Z is D_H^T Z D_W, so the basis image of coefficient (u, v) is the
// outer product of rows u and v.
inline torch::Tensor simba_dct_matrix(std::int64_t n) {
  const auto k = torch::arange(n, torch::kDouble).view({n, 1});
  const auto j = torch::arange(n, torch::kDouble).view({1, n});
  const double pi = std::acos(-1.0);
  auto d = torch::cos(pi * (2 * j + 1) * k / (2.0 * static_cast<double>(n))) * std::sqrt(2.0 / static_cast<double>(n));
  d[0].div_(std::sqrt(2.0));
  return d;
}

// The low-frequency block's side and the band width for an H x W image.
inline std::int64_t simba_freq_dims(const SimbaConfig& c, std::int64_t h, std::int64_t w) {
  const std::int64_t side = std::min(h, w);
  const std::int64_t fd = c.freq_dims > 0 ? c.freq_dims : static_cast<std::int64_t>(std::lround(side / 8.0));
  return std::max<std::int64_t>(1, std::min(fd, std::max(h, w)));
}
inline std::int64_t simba_stride(const SimbaConfig& c, std::int64_t h, std::int64_t w) {
  const std::int64_t side = std::min(h, w);
  return std::max<std::int64_t>(1, c.stride > 0 ? c.stride : static_cast<std::int64_t>(std::lround(side / 32.0)));
}

// The order in which the directions are tried: flat indices c*H*W + u*W + v of the
// basis (pixels, or DCT coefficients (u, v) of channel c), int64 on the CPU.
inline torch::Tensor simba_order(const SimbaConfig& c, std::int64_t channels, std::int64_t h, std::int64_t w,
                                 at::Generator& gen) {
  const std::int64_t n = channels * h * w;
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong);
  if (c.basis == SimbaBasis::Pixel) return torch::randperm(n, gen, long_opts);
  const std::int64_t fd = simba_freq_dims(c, h, w);
  const auto u = torch::arange(h, long_opts).view({1, h, 1}).expand({channels, h, w});
  const auto v = torch::arange(w, long_opts).view({1, 1, w}).expand({channels, h, w});
  const auto outward = torch::max(u, v).reshape({n});
  if (c.order == SimbaOrder::Random) {
    const auto low = rows_where(u.reshape({n}).lt(fd).logical_and(v.reshape({n}).lt(fd)));
    return low.index_select(0, torch::randperm(low.numel(), gen, long_opts));
  }
  // Band 0: max(u, v) < fd; band k >= 1: fd + (k-1) stride <= max(u, v) < fd + k stride.
  const std::int64_t stride = simba_stride(c, h, w);
  const auto band = torch::where(outward.lt(fd), torch::zeros_like(outward),
                                 torch::div(outward - fd, stride, "floor") + 1);
  const auto key = band.to(torch::kDouble) + torch::rand({n}, gen, torch::TensorOptions().dtype(torch::kDouble));
  return std::get<1>(key.sort());
}

// The unit direction [C,H,W] of flat basis index `index` (simba_order), as `like`'s
// dtype and device. `dct_h`, `dct_w`: simba_dct_matrix(H), (W) there (DCT basis only).
inline torch::Tensor simba_direction(SimbaBasis basis, std::int64_t index, const torch::Tensor& like,
                                     const torch::Tensor& dct_h, const torch::Tensor& dct_w) {
  const std::int64_t ch = like.size(1), h = like.size(2), w = like.size(3);
  auto q = torch::zeros({ch, h, w}, like.options());
  const std::int64_t c = index / (h * w), u = (index / w) % h, v = index % w;
  if (basis == SimbaBasis::Pixel) {
    q[c][u][v] = 1.0;
  } else {
    q[c].copy_(torch::outer(dct_h[u], dct_w[v]));
  }
  return q;
}

// Called after every iteration with the current images [B,C,H,W] and each sample's
// current probability of its label (targeted: of its target) [B]; for tests.
using SimbaObserver = std::function<void(const torch::Tensor& images, const torch::Tensor& probability)>;

// SimBA on the batch through `oracle`: the adversarial images, success, iterations
// (directions tried) and queries per sample.
inline AttackResult run_simba(Oracle& oracle, const AttackBatch& batch, const Objective& objective,
                              const SimbaConfig& c, std::uint64_t seed, const SimbaObserver& observe = {}) {
  check_score_based(oracle, batch, objective, "simba");
  const auto clean = batch.images.detach();
  const std::int64_t b = clean.size(0), ch = clean.size(1), h = clean.size(2), w = clean.size(3);
  const auto device = clean.device();
  const bool targeted = objective.targeted();
  const auto& labels = batch.labels;
  const torch::Tensor targets = targeted ? batch.targets : torch::Tensor();
  const torch::Tensor goal = targeted ? batch.targets : batch.labels;  // the class whose probability moves
  const auto better = [targeted](const torch::Tensor& p, const torch::Tensor& than) {
    return targeted ? p.gt(than) : p.lt(than);
  };

  QueryLedger ledger(oracle, b, c.max_queries);
  auto gen = compat::cpu_generator(seed);
  torch::NoGradGuard no_grad;
  const auto order = simba_order(c, ch, h, w, gen);
  torch::Tensor dct_h, dct_w;
  if (c.basis == SimbaBasis::Dct) {
    dct_h = simba_dct_matrix(h).to(device, clean.scalar_type());
    dct_w = simba_dct_matrix(w).to(device, clean.scalar_type());
  }

  auto delta = torch::zeros_like(clean);
  auto probability = torch::zeros({b}, clean.options());
  auto iterations = torch::zeros({b}, torch::kLong);

  // The clean image's probabilities: one query each.
  const CleanQuery first = query_clean(ledger, clean, labels, targets, objective);
  const auto& started = first.started;
  auto success = first.success;
  if (first.rows.numel() > 0) {
    const auto rows_d = first.rows.to(device);
    probability.index_copy_(0, rows_d, class_probability(first.probabilities, goal.index_select(0, rows_d)));
  }
  auto solved = success.cpu();
  const auto image_of = [&](const torch::Tensor& x0, const torch::Tensor& d) { return (x0 + d).clamp(0.0, 1.0); };

  const std::int64_t directions = order.numel();
  const auto* order_data = order.data_ptr<std::int64_t>();
  for (std::int64_t k = 0; k < directions; ++k) {
    const auto rows = rows_where(started.logical_and(solved.logical_not()).logical_and(ledger.left() > 0));
    if (rows.numel() == 0) break;
    const auto rows_d = rows.to(device);
    const auto q = simba_direction(c.basis, order_data[k], clean, dct_h, dct_w) * c.step;
    const auto x0 = clean.index_select(0, rows_d), d = delta.index_select(0, rows_d);
    const auto p_old = probability.index_select(0, rows_d);
    const auto labels_r = labels.index_select(0, rows_d), targets_r = pick_rows(targets, rows_d);
    const auto goal_r = goal.index_select(0, rows_d);

    // +step first (the paper's order of alpha in {eps, -eps}).
    const auto plus = d + q;
    const auto probs_plus = ledger.probabilities(image_of(x0, plus), rows);
    const auto p_plus = class_probability(probs_plus, goal_r);
    const auto took_plus = better(p_plus, p_old);
    auto sign = took_plus.to(clean.scalar_type());
    auto p_new = torch::where(took_plus, p_plus, p_old);
    auto reached = took_plus.logical_and(objective.success(log_probabilities(probs_plus), labels_r, targets_r));

    // -step for the rows +step did not help, while they have a query left.
    const auto second = rows_where(took_plus.cpu().logical_not().logical_and(ledger.left().index_select(0, rows) > 0));
    if (second.numel() > 0) {
      const auto second_d = second.to(device);
      const auto minus = d.index_select(0, second_d) - q;
      const auto probs_minus = ledger.probabilities(image_of(x0.index_select(0, second_d), minus),
                                                    rows.index_select(0, second));
      const auto p_minus = class_probability(probs_minus, goal_r.index_select(0, second_d));
      const auto took_minus = better(p_minus, p_old.index_select(0, second_d));
      sign.index_copy_(0, second_d, -took_minus.to(clean.scalar_type()));
      p_new.index_copy_(0, second_d, torch::where(took_minus, p_minus, p_old.index_select(0, second_d)));
      reached.index_copy_(0, second_d,
                          took_minus.logical_and(objective.success(log_probabilities(probs_minus),
                                                                   labels_r.index_select(0, second_d),
                                                                   pick_rows(targets_r, second_d))));
    }
    delta.index_copy_(0, rows_d, d + sign.view({-1, 1, 1, 1}) * q);
    probability.index_copy_(0, rows_d, p_new);
    success.index_copy_(0, rows_d, reached);
    iterations.index_add_(0, rows, torch::ones({rows.numel()}, torch::kLong));
    solved = success.cpu();
    if (observe) observe(image_of(clean, delta), probability);
  }
  return {image_of(clean, delta).detach(), success.clone(), iterations, ledger.spent().clone()};
}

class Simba : public Attack {
 public:
  static void schema(ParamSchema& s) {
    s.add_enum<SimbaBasis>("basis", simba_basis_names(), SimbaBasis::Dct,
                           "Directions: pixel (one coordinate of one channel: SimBA) or dct (low-frequency "
                           "orthonormal DCT patterns per channel: SimBA-DCT, the paper's stronger variant)");
    s.add_epsilon("step", "0.2",
                  "Step along each direction, in [0,1] pixel units (L2 norm of one step): the paper's 0.2, which "
                  "the authors' code applies to [0,1] images. Not a norm ball: after T accepted steps the L2 "
                  "distance is step * sqrt(T) (the survey's code passed its L-inf epsilon here)")
        .min_exclusive(0.0)
        .max(1.0);
    s.add_int("max_queries", 5000,
              "Query budget per image (one for the clean image, then one or two per direction); the host counts "
              "and enforces it. 5000 as the survey's SimBA")
        .min(1)
        .max(10000000);
    s.add_enum<SimbaOrder>("order", simba_order_names(), SimbaOrder::Strided,
                           "dct only: strided (the lowest freq_dims x freq_dims frequencies first, then bands of "
                           "`stride` outward to the full basis: the paper's SimBA-DCT) or random (only the "
                           "lowest block, in random order: at most channels * freq_dims^2 directions)");
    s.add_int("freq_dims", 0,
              "dct only: side of the low-frequency block tried first; 0 = one eighth of the image side (the "
              "paper's 28 for 224 px); clamped to the image")
        .min(0)
        .max(100000);
    s.add_int("stride", 0,
              "dct with order = strided: width of each further frequency band; 0 = one thirty-second of the "
              "image side, at least 1 (the paper's 7 for 224 px)")
        .min(0)
        .max(100000);
  }

  Simba(const Params& p, RunContext&) {
    config_.basis = p.get_enum<SimbaBasis>("basis");
    config_.order = p.get_enum<SimbaOrder>("order");
    config_.step = p.get_float("step");
    config_.max_queries = p.get_int("max_queries");
    config_.freq_dims = p.get_int("freq_dims");
    config_.stride = p.get_int("stride");
  }

  void check_task(const ModelSpec& task) const override { refuse_non_classification(task, "simba"); }

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext& ctx) override {
    return run_simba(capability.oracle(), batch, objective, config_, ctx.seed_for("simba/order"));
  }

  const SimbaConfig& config() const { return config_; }

 private:
  SimbaConfig config_;
};

}  // namespace medadv::plugins::blackbox
