#pragma once
// FGSM (Goodfellow et al. 2015): one step of size epsilon along sign(grad) of the
// objective, from the clean image, then clip to [0,1].
#include <string>

#include <medadv/attack.h>
#include <medadv/params.h>

#include "gradient_steps.h"

namespace medadv::plugins::gradient {

class Fgsm : public Attack {
 public:
  static void schema(ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255", "L-inf size of the single signed-gradient step, in pixel units ([0,1] images)")
        .max(1.0);
  }

  Fgsm(const Params& p, RunContext&) : epsilon_(p.get_float("epsilon")) {}

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext&) override {
    const Problem problem = make_problem(batch, capability, objective, "fgsm");
    IterativeConfig c;
    c.norm = Norm::Linf;
    c.epsilon = epsilon_;
    c.step = epsilon_;
    c.steps = 1;
    return to_result(iterate(problem, problem.clean, c));
  }

 private:
  double epsilon_;
};

}  // namespace medadv::plugins::gradient
