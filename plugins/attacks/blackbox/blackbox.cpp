// The black-box attack family library. Each plugin's implementation lives in its own
// header so that tests can include it: plugin libraries export nothing but their entry
// symbol.
#include <medadv/plugin.h>

#include "simba.h"
#include "square.h"

MEDADV_PLUGINS(
    medadv::attack<medadv::plugins::blackbox::Square>(
        "square", "1.0.0",
        "Square attack (Andriushchenko et al. 2020): score-based random search over square patches, L-inf or "
        "L2, margin loss on the oracle's probabilities, the paper's schedule of p",
        medadv::ThreatModel::BlackBox),
    medadv::attack<medadv::plugins::blackbox::Simba>(
        "simba", "1.0.0",
        "SimBA (Guo et al. 2019): steps of +-step along random orthonormal directions (pixel or low-frequency "
        "DCT basis) kept when they lower the true-class probability (raise the target's)",
        medadv::ThreatModel::BlackBox))
