#pragma once
// tvm: total-variance minimisation (Guo, Rana, Cisse and van der Maaten, ICLR 2018). Each
// value (pixel and channel) is kept with probability `keep` (a fresh Bernoulli mask m per
// call: randomised, so attacked with EOT), and the image is rebuilt from the kept values by
//   z* = argmin_z  1/2 || m * (z - x) ||^2 + weight * TV(z),
// TV the isotropic total variation per channel, sum over pixels of
// sqrt(dx^2 + dy^2) with forward differences (zero across the last row and column).
// Defaults follow the authors' code (facebookarchive/adversarial_image_defenses):
// pixel drop rate 0.5 (keep = 0.5) and TVM weight 0.03 (its split-Bregman solver weighs the
// data term by 1 / 0.03, i.e. the objective above with weight 0.03).
// Solver: the first-order primal-dual algorithm of Chambolle and Pock (2011, Algorithm 1),
// batched over every image and channel on the input's device: dual step on the gradient
// field, projected onto the ball of radius `weight`; primal step through the data term's
// proximal map (z + tau m x) / (1 + tau m); extrapolation with theta = 1;
// tau = sigma = 1 / sqrt(8) (tau sigma ||grad||^2 <= 1). It starts from the dropped image
// m * x and runs `iterations` steps; the result is clipped to [0, 1].
// The mask is drawn on the CPU from a generator seeded by the run context
// (seed_for("tvm/mask")), one draw per transform() call, so a seed repeats a run's sequence
// of masks on any device. Backward: the identity (BPDA), with EOT over the masks on the host.
#include <cmath>
#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include <medadv/context.h>
#include <medadv/defense.h>
#include <medadv/error.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>

namespace medadv::plugins::preprocessors {

namespace tv {

// Forward differences along width and height, zero at the last column / row: [.., H, W] each.
inline torch::Tensor diff_x(const torch::Tensor& z) {
  return torch::constant_pad_nd(z.slice(3, 1) - z.slice(3, 0, -1), {0, 1});
}
inline torch::Tensor diff_y(const torch::Tensor& z) {
  return torch::constant_pad_nd(z.slice(2, 1) - z.slice(2, 0, -1), {0, 0, 0, 1});
}
// The negative adjoint of (diff_x, diff_y) for fields that are zero on the last column / row.
inline torch::Tensor divergence(const torch::Tensor& px, const torch::Tensor& py) {
  return px - torch::constant_pad_nd(px.slice(3, 0, -1), {1, 0}) + py -
         torch::constant_pad_nd(py.slice(2, 0, -1), {0, 0, 1, 0});
}

// The isotropic total variation per image [B] of z [B, C, H, W].
inline torch::Tensor total_variation(const torch::Tensor& z) {
  return (diff_x(z).square() + diff_y(z).square()).sqrt().flatten(1).sum(1);
}

// The objective per image [B]: 1/2 ||m (z - x)||^2 + weight TV(z).
inline torch::Tensor energy(const torch::Tensor& z, const torch::Tensor& x, const torch::Tensor& mask, double weight) {
  return 0.5 * (mask * (z - x)).square().flatten(1).sum(1) + weight * total_variation(z);
}

// Minimises energy(z, x, mask, weight) by `iterations` Chambolle-Pock steps from mask * x.
inline torch::Tensor reconstruct(const torch::Tensor& x, const torch::Tensor& mask, double weight,
                                 std::int64_t iterations) {
  const double tau = 1.0 / std::sqrt(8.0), sigma = 1.0 / std::sqrt(8.0);
  const torch::Tensor data = mask * x;
  const torch::Tensor denominator = 1.0 + tau * mask;
  torch::Tensor z = data.clone(), z_bar = z;
  torch::Tensor px = torch::zeros_like(x), py = torch::zeros_like(x);
  for (std::int64_t i = 0; i < iterations; ++i) {
    px = px + sigma * diff_x(z_bar);
    py = py + sigma * diff_y(z_bar);
    const torch::Tensor scale = ((px.square() + py.square()).sqrt() / weight).clamp_min(1.0);
    px = px / scale;
    py = py / scale;
    const torch::Tensor z_next = (z + tau * divergence(px, py) + tau * data) / denominator;
    z_bar = 2.0 * z_next - z;
    z = z_next;
  }
  return z;
}

}  // namespace tv

class Tvm : public RandomizedPreprocessor {
 public:
  static void schema(ParamSchema& s) {
    s.add_float("keep", 0.5, "probability that each pixel value is kept (Guo et al.'s code: drop rate 0.5)")
        .min_exclusive(0)
        .max(1);
    s.add_float("weight", 0.03, "weight of the total variation against the squared error on kept values (Guo et al.'s "
                                "TVM weight)")
        .min_exclusive(0)
        .max(100);
    s.add_int("iterations", 200, "primal-dual (Chambolle-Pock) iterations of the reconstruction").min(1).max(100000);
  }

  Tvm(const Params& p, RunContext& ctx)
      : keep_(p.get_float("keep")),
        weight_(p.get_float("weight")),
        iterations_(p.get_int("iterations")),
        generator_(compat::cpu_generator(ctx.seed_for("tvm/mask"))) {}

  // The next mask for x: 1 where a value is kept, in x's dtype and on its device.
  torch::Tensor draw_mask(const torch::Tensor& x) {
    const torch::Tensor u = torch::rand(x.sizes(), generator_, torch::TensorOptions(torch::kFloat));
    return (u < keep_).to(x.options());
  }

  torch::Tensor transform(const torch::Tensor& x) override {
    if (x.dim() != 4) throw InvalidInput("tvm: expected images [B, C, H, W], got " + c10::str(x.sizes()));
    if (!x.is_floating_point()) throw InvalidInput("tvm: expected floating-point images in [0, 1]");
    return tv::reconstruct(x, draw_mask(x), weight_, iterations_).clamp(0.0, 1.0);
  }
  // backward_approximation(): the SDK's identity (BPDA); the host averages over masks (EOT).

 private:
  double keep_, weight_;
  std::int64_t iterations_;
  at::Generator generator_;
};

}  // namespace medadv::plugins::preprocessors
