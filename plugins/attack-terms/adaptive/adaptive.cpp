// The adaptive attack-term library. Each term's implementation lives in its own header so
// that tests can include it: plugin libraries export nothing but their entry symbol.
#include <medadv/plugin.h>

#include "hfc.h"

MEDADV_PLUGINS(medadv::attack_term<medadv::plugins::adaptive::Hfc>(
    "hfc", "1.0.0",
    "Hierarchical feature constraint: keeps the adversarial features in the target class's Gaussian mixtures"))
