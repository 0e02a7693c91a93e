#pragma once
// BIM / I-FGSM (Kurakin et al. 2017): T steps of alpha along sign(grad) from the clean
// image, projected and clipped after each; classic defaults alpha = epsilon / 10 (step
// 0), T = 10. A preset of the iterative family (iterative.h).
#include <medadv/attack.h>
#include <medadv/params.h>

#include "iterative.h"

namespace medadv::plugins::gradient {

inline constexpr IterativePreset kBimPreset{"bim", "0", /*random_start=*/false, /*momentum=*/0.0,
                                            /*diversity_prob=*/0.0, /*translation_invariance=*/false};

class Bim : public IterativeGradientAttack {
 public:
  static void schema(ParamSchema& s) { add_iterative_options(s, kBimPreset); }
  Bim(const Params& p, RunContext&) : IterativeGradientAttack(p, kBimPreset) {}
};

}  // namespace medadv::plugins::gradient
