#pragma once
// @NAME@: a one-step L-inf gradient-sign attack (FGSM, Goodfellow et al., 2015).
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <cstdint>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::Attack {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255", "L-inf radius of the perturbation, in [0,1] pixel units").max(1.0);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/) : epsilon_(p.get_float("epsilon")) {}

  medadv::AttackResult run(const medadv::AttackBatch& batch, medadv::Capability& cap,
                           const medadv::Objective& objective, medadv::RunContext& /*ctx*/) override {
    // The victim (white-box). The host has already put any preprocessing defense (with
    // BPDA) and randomized wrapper in front of it, so no special cases are needed here.
    medadv::DifferentiableModel& model = cap.gradient_model();
    const torch::Tensor clean = batch.images.detach();
    const torch::Tensor x = clean.clone().requires_grad_(true);

    // One forward that also computes the taps any add-on terms of the objective read.
    const medadv::ModelOutput out = model.forward(x, objective.required_taps());
    // Samples are independent, so the gradient of the sum is each sample's own gradient.
    const torch::Tensor total = objective.evaluate(out, x, batch.labels, batch.targets).sum();
    // Gradient w.r.t. the input only: backward() would also fill the frozen weights' .grad.
    const torch::Tensor grad = torch::autograd::grad({total}, {x})[0];

    torch::NoGradGuard no_grad;
    medadv::AttackResult r;
    // The clean image is in [0,1], so clamping keeps the step inside the epsilon ball.
    r.adversarial = (clean + epsilon_ * grad.sign()).clamp(0.0, 1.0);
    r.success = objective.success(model.logits(r.adversarial), batch.labels, batch.targets);
    const auto counts = torch::TensorOptions().dtype(torch::kInt64).device(clean.device());
    r.iterations = torch::ones({clean.size(0)}, counts);
    r.queries = torch::zeros({clean.size(0)}, counts);  // white-box: no oracle queries
    return r;
  }

 private:
  double epsilon_;
};
