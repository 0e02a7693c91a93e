#pragma once
// MIM / MI-FGSM (Dong et al. 2018): BIM whose step follows a momentum mu = 1.0 of the
// gradients, each normalised by its mean absolute value per sample (momentum.h). A
// preset of the iterative family (iterative.h).
#include <medadv/attack.h>
#include <medadv/params.h>

#include "iterative.h"

namespace medadv::plugins::gradient {

inline constexpr IterativePreset kMimPreset{"mim", "0", /*random_start=*/false, /*momentum=*/1.0,
                                            /*diversity_prob=*/0.0, /*translation_invariance=*/false};

class Mim : public IterativeGradientAttack {
 public:
  static void schema(ParamSchema& s) { add_iterative_options(s, kMimPreset); }
  Mim(const Params& p, RunContext&) : IterativeGradientAttack(p, kMimPreset) {}
};

}  // namespace medadv::plugins::gradient
