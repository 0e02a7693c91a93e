#pragma once
// DIM / DI-2-FGSM (Xie et al. 2019): BIM whose forward sees, with probability 0.5 per
// step, the input resized to a random size in [0.9 s, s) and zero-padded back to s at a
// random offset (input_diversity.h). With momentum = 1.0 it is M-DI2-FGSM. A preset of
// the iterative family (iterative.h).
#include <medadv/attack.h>
#include <medadv/params.h>

#include "iterative.h"

namespace medadv::plugins::gradient {

inline constexpr IterativePreset kDimPreset{"dim", "0", /*random_start=*/false, /*momentum=*/0.0,
                                            /*diversity_prob=*/0.5, /*translation_invariance=*/false};

class Dim : public IterativeGradientAttack {
 public:
  static void schema(ParamSchema& s) { add_iterative_options(s, kDimPreset); }
  Dim(const Params& p, RunContext&) : IterativeGradientAttack(p, kDimPreset) {}
};

}  // namespace medadv::plugins::gradient
