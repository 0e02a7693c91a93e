#pragma once
// TIM / TI-FGSM (Dong et al. 2019): BIM whose gradient is convolved depthwise with a
// normalised Gaussian kernel (7 px up to 256 px images, 15 above; nsig 3) before the
// sign (translation_invariance.h). With diversity_prob = 0.5 it is TI-DIM. A preset of
// the iterative family (iterative.h).
#include <medadv/attack.h>
#include <medadv/params.h>

#include "iterative.h"

namespace medadv::plugins::gradient {

inline constexpr IterativePreset kTimPreset{"tim", "0", /*random_start=*/false, /*momentum=*/0.0,
                                            /*diversity_prob=*/0.0, /*translation_invariance=*/true};

class Tim : public IterativeGradientAttack {
 public:
  static void schema(ParamSchema& s) { add_iterative_options(s, kTimPreset); }
  Tim(const Params& p, RunContext&) : IterativeGradientAttack(p, kTimPreset) {}
};

}  // namespace medadv::plugins::gradient
