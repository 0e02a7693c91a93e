// The black-box attack family library. Each plugin's implementation lives in its own
// header so that tests can include it: plugin libraries export nothing but their entry
// symbol.
#include <medadv/plugin.h>

#include "nes.h"
#include "simba.h"
#include "square.h"
#include "zoo.h"

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
        medadv::ThreatModel::BlackBox),
    medadv::attack<medadv::plugins::blackbox::Nes>(
        "nes", "1.0.0",
        "NES (Ilyas et al. 2018): PGD (L-inf or L2) on a gradient estimated from antithetic Gaussian probes of "
        "the oracle's probabilities (sigma 0.001, 50 pairs), margin loss (targeted: cross-entropy)",
        medadv::ThreatModel::BlackBox),
    medadv::attack<medadv::plugins::blackbox::Zoo>(
        "zoo", "1.0.0",
        "ZOO-ADAM (Chen et al. 2017): Adam on random batches of coordinates whose partial derivatives are "
        "symmetric finite differences of the paper's margin loss on log probabilities, in an L-inf ball",
        medadv::ThreatModel::BlackBox))
