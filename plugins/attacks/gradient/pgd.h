#pragma once
// PGD (Madry et al. 2018): projected gradient ascent inside an L-inf or L2 ball, from a
// uniform random start, with restarts. A preset of the iterative family (iterative.h):
// it accepts momentum, input diversity and translation invariance too.
#include <medadv/attack.h>
#include <medadv/params.h>

#include "iterative.h"

namespace medadv::plugins::gradient {

// 10 steps of 2/255 from a random start (the survey's step for eps 8/255).
inline constexpr IterativePreset kPgdPreset{"pgd", "2/255", /*random_start=*/true, /*momentum=*/0.0,
                                            /*diversity_prob=*/0.0, /*translation_invariance=*/false};

class Pgd : public IterativeGradientAttack {
 public:
  static void schema(ParamSchema& s) { add_iterative_options(s, kPgdPreset); }
  Pgd(const Params& p, RunContext&) : IterativeGradientAttack(p, kPgdPreset) {}
};

}  // namespace medadv::plugins::gradient
