#pragma once
// PGD (Madry et al. 2018): projected gradient ascent inside an L-inf or L2 ball, from a
// uniform random start, with restarts. With random_start = false it is BIM / I-FGSM
// (Kurakin et al.).
#include <string>

#include <medadv/attack.h>
#include <medadv/params.h>

#include "gradient_steps.h"

namespace medadv::plugins::gradient {

class Pgd : public Attack {
 public:
  static void schema(ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255",
                  "Radius of the norm ball around the clean image, in pixel units ([0,1] images); "
                  "at most 1 for linf");
    s.add_epsilon("step", "2/255",
                  "Step size per iteration in pixel units: along sign(grad) for linf, along "
                  "grad / ||grad||_2 per sample for l2")
        .min_exclusive(0.0);
    s.add_int("steps", 10, "Number of iterations per restart").min(1).max(100000);
    s.add_enum("norm", {"linf", "l2"}, "linf", "Norm of the perturbation ball");
    s.add_bool("random_start", true,
               "Start from a uniform random point of the ball (linf: uniform in [-eps, eps] per pixel; "
               "l2: uniform in the ball); false gives BIM / I-FGSM");
    s.add_int("restarts", 1,
              "Random restarts; each sample keeps its first successful result, else the one with "
              "the highest objective. Later restarts update only the samples still unsolved; "
              "without random_start one run is made")
        .min(1)
        .max(1000);
    s.add_bool("early_stop", false,
               "Stop updating a sample once it succeeds; its iterations then count the steps it took");
  }

  Pgd(const Params& p, RunContext&) {
    settings_.iter.norm = parse_norm(p.get_string("norm"));
    settings_.iter.epsilon = p.get_float("epsilon");
    settings_.iter.step = p.get_float("step");
    settings_.iter.steps = p.get_int("steps");
    settings_.iter.early_stop = p.get_bool("early_stop");
    settings_.random_start = p.get_bool("random_start");
    settings_.restarts = p.get_int("restarts");
    settings_.seed_purpose = "pgd/random-start/";
    if (settings_.iter.norm == Norm::Linf && settings_.iter.epsilon > 1.0)
      throw InvalidInput("pgd: an L-inf epsilon above 1 (" + p.text_of("epsilon") +
                         ") exceeds the [0,1] pixel range");
  }

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext& ctx) override {
    return to_result(run_projected(make_problem(batch, capability, objective, "pgd"), settings_, ctx));
  }

  const ProjectedSettings& settings() const { return settings_; }

 private:
  ProjectedSettings settings_;
};

}  // namespace medadv::plugins::gradient
