// The medical-imaging attack family library. Each plugin's implementation lives in its
// own header so that tests can include it: plugin libraries export nothing but their
// entry symbol.
#include <medadv/plugin.h>

#include "sma.h"

MEDADV_PLUGINS(medadv::attack<medadv::plugins::medical::Sma>(
    "sma", "1.0.0",
    "Stabilized medical attack (Qi et al. 2021): I-FGSM on the objective minus lambda * KL(f(x+r) || f(x+G*r)), "
    "G a Gaussian blur of the perturbation",
    medadv::ThreatModel::WhiteBox))
