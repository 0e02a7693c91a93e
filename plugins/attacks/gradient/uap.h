#pragma once
// UAP: one universal perturbation delta shared by every image (ATTACKS.md). fit() runs
// sign-gradient ascent on delta over a split:
//   for each batch: delta <- Pi_eps(delta + alpha * dir(mean over the batch of grad))
// for several epochs, with dir = sign for linf and the L2-normalised mean gradient for
// l2, and the gradient taken w.r.t. each perturbed image clip(x + delta, 0, 1). The
// batches are drawn in a fresh seeded order each epoch. run() applies the fitted delta
// to any batch (clipped to [0,1]); the host fits on adv_train and runs on both splits,
// so adv_test measures transfer to unseen images. The DeepFool-based UAP of
// Moosavi-Dezfooli et al. is not offered (docs/decisions.md).
#include <algorithm>
#include <cstdint>
#include <string>

#include <medadv/attack.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>

#include "gradient_steps.h"

namespace medadv::plugins::gradient {

class Uap : public UniversalAttack {
 public:
  static void schema(ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255",
                  "Radius of the norm ball of the universal perturbation, in pixel units ([0,1] images); "
                  "at most 1 for linf");
    s.add_epsilon("step", "0",
                  "Step size of each batch's update of the perturbation: along the sign of the batch's mean "
                  "gradient for linf, along it divided by its L2 norm for l2. 0 means epsilon / 10");
    s.add_int("epochs", 10, "Passes over the fitting split, one update per batch").min(1).max(10000);
    s.add_enum<Norm>("norm", norm_names(), Norm::Linf, "Norm of the perturbation ball");
    add_linf_epsilon_check(s);
  }

  Uap(const Params& p, RunContext&)
      : norm_(p.get_enum<Norm>("norm")), epsilon_(p.get_float("epsilon")), epochs_(p.get_int("epochs")) {
    const double step = p.get_float("step");
    step_ = step > 0.0 ? step : epsilon_ / 10.0;
  }

  void fit(const ImageBatches& images, const torch::Tensor& targets, std::int64_t batch_size, Capability& capability,
           const Objective& objective, RunContext& ctx) override {
    if (images.size() == 0) throw InvalidInput("uap: fit() needs a non-empty split of images");
    if (batch_size < 1) throw InvalidInput("uap: fit() needs a batch size of at least 1");
    const std::int64_t n = images.size();
    const c10::Device device = ctx.device();
    const torch::Tensor labels = images.labels();
    auto shape = images.images(0, 1, device).sizes().vec();
    shape[0] = 1;
    auto delta = torch::zeros(shape, torch::TensorOptions().dtype(torch::kFloat).device(device));
    auto order_generator = compat::cpu_generator(ctx.seed_for("uap/batch-order"));
    // Segmentation masks come as uint8; the objective takes them as float.
    const auto rows = [&](const torch::Tensor& t, const torch::Tensor& index) {
      if (!t.defined()) return torch::Tensor();
      const auto picked = t.index_select(0, index.to(t.device())).to(device);
      return picked.dim() > 1 && !picked.is_floating_point() ? picked.to(torch::kFloat) : picked;
    };
    for (std::int64_t epoch = 0; epoch < epochs_; ++epoch) {
      const auto order = torch::randperm(n, order_generator, torch::kLong);
      for (std::int64_t begin = 0; begin < n; begin += batch_size) {
        const auto index = order.slice(0, begin, std::min(begin + batch_size, n));
        const AttackBatch batch{images.rows(index, device), rows(labels, index), rows(targets, index)};
        const Problem problem = make_problem(batch, capability, objective, "uap");
        const auto grad = evaluate_with_grad(problem, apply(problem.clean, delta)).grad;
        // delta enters every image of the batch: its ascent direction is that of the
        // batch's mean gradient.
        const auto mean_grad = grad.mean(0, /*keepdim=*/true);
        delta = project_delta(delta + step_ * ascent_direction(mean_grad, norm_), norm_, epsilon_);
      }
    }
    delta_ = delta.detach();
    const std::int64_t updates = epochs_ * ((n + batch_size - 1) / batch_size);
    ctx.log().info("fitted on " + std::to_string(n) + " images, " + std::to_string(updates) +
                   " updates; perturbation L-inf " + std::to_string(delta_.abs().max().item<double>()) + ", L2 " +
                   std::to_string(delta_.norm().item<double>()));
  }

  // The images with the fitted delta added and clipped to [0,1]. Per-sample iterations
  // are 0: nothing is optimised per image (the fit's cost is in its log line).
  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext&) override {
    if (!delta_.defined())
      throw Error("uap: run() before fit(): the universal perturbation must first be fitted on a split "
                  "(the host fits it on adv_train)");
    const Problem problem = make_problem(batch, capability, objective, "uap");
    if (problem.clean.sizes().slice(1) != delta_.sizes().slice(1))
      throw InvalidInput("uap: the perturbation was fitted on images of shape " + shape_text(delta_) +
                         " (per image), this batch has " + shape_text(problem.clean));
    const auto adversarial = apply(problem.clean, delta_.to(problem.clean.device(), problem.clean.scalar_type()));
    const auto last = evaluate(problem, adversarial);
    const auto iterations = torch::zeros({problem.size()}, torch::TensorOptions().dtype(torch::kLong).device(
                                                               problem.clean.device()));
    return to_result(
        Outcome{adversarial, objective.success(last.logits, problem.labels, problem.targets), last.value, iterations});
  }

  // The fitted perturbation [1, C, H, W]; undefined before fit().
  const torch::Tensor& perturbation() const { return delta_; }

 private:
  static torch::Tensor apply(const torch::Tensor& clean, const torch::Tensor& delta) {
    return (clean + delta).clamp(0.0, 1.0);
  }
  static std::string shape_text(const torch::Tensor& t) {
    std::string s;
    for (std::int64_t d = 1; d < t.dim(); ++d) s += (s.empty() ? "" : "x") + std::to_string(t.size(d));
    return s;
  }

  Norm norm_;
  double epsilon_;
  double step_;
  std::int64_t epochs_;
  torch::Tensor delta_;
};

}  // namespace medadv::plugins::gradient
