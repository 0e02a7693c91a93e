#pragma once
// CW-Linf (Carlini & Wagner's margin loss under an L-inf budget, as in Madry et al.'s
// "PGD on the CW loss"): projected signed-gradient ascent on
//   f = -max(z_y - max_{j!=y} z_j, -kappa)            (untargeted)
//   f = -max(max_{j!=t} z_j - z_t, -kappa)            (targeted)
// The attack is defined by its loss: it runs on the experiment's objective with the
// base loss swapped for the CW margin (targeted or not and any add-on terms kept), with
// kappa the experiment's `kappa` key (default 0).
#include <cstdint>
#include <string>

#include <medadv/attack.h>
#include <medadv/params.h>
#include <medadv/perturbation.h>
#include <medadv/white_box.h>

#include "classification_only.h"
#include "white_box_names.h"

namespace medadv::plugins::margin {

class CwLinf : public Attack {
 public:
  // The survey protocol's step: 30 steps of 0.0015 for eps <= 2/255, else of 0.003.
  static double survey_step(double epsilon) { return epsilon <= 2.0 / 255 + 1e-12 ? 0.0015 : 0.003; }

  static void schema(ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255", "L-inf radius of the ball around the clean image, in pixel units ([0,1] images)")
        .max(1.0);
    s.add_epsilon("step", "0",
                  "Step size per iteration along sign(grad), in pixel units; 0 means the survey protocol's "
                  "step: 0.0015 for epsilon <= 2/255, else 0.003");
    s.add_int("steps", 30, "Iterations per restart (the survey protocol's 30)").min(1).max(100000);
    medadv::white_box::add_step_schedule(s);
    s.add_bool("random_start", true, "Start from a uniform random point of the L-inf ball (else from the clean image)");
    s.add_int("restarts", 1,
              "Random restarts; each sample keeps its first successful result, else the one with the highest "
              "objective. Later restarts update only the samples still unsolved; without random_start one run "
              "is made")
        .min(1)
        .max(1000);
  }

  CwLinf(const Params& p, RunContext&)
      : random_start_(p.get_bool("random_start")), restarts_(p.get_int("restarts")) {
    config_.norm = Norm::Linf;
    config_.epsilon = p.get_float("epsilon");
    const double step = p.get_float("step");
    config_.step = step > 0 ? step : survey_step(config_.epsilon);
    config_.steps = p.get_int("steps");
    medadv::white_box::read_step_schedule(p, config_);
  }

  void check_task(const ModelSpec& task) const override {
    refuse_segmentation(task, "cw-linf", "the CW margin compares class logits");
  }

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext& ctx) override {
    const Objective cw = objective.with_base(BaseLoss::CWMargin, objective.kappa());
    const Problem problem = make_problem(batch, capability, cw, "cw-linf");
    // Without a random start every restart would repeat the first one exactly.
    const std::int64_t restarts = random_start_ ? restarts_ : 1;
    return to_result(best_of_restarts(restarts, [&](std::int64_t r, const torch::Tensor& frozen) {
      const auto start =
          random_start_ ? random_start(problem.clean, Norm::Linf, config_.epsilon,
                                       ctx.seed_for("cw-linf/random-start/" + std::to_string(r)))
                        : problem.clean;
      return iterate(problem, start, config_, {}, frozen);
    }));
  }

  const IterativeConfig& config() const { return config_; }

 private:
  IterativeConfig config_;
  bool random_start_;
  std::int64_t restarts_;
};

}  // namespace medadv::plugins::margin
