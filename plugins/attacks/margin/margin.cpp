// The margin and optimisation attack family library. Each plugin's implementation lives
// in its own header so that tests can include it: plugin libraries export nothing but
// their entry symbol.
#include <medadv/plugin.h>

#include "apgd.h"
#include "cw_l2.h"
#include "cw_linf.h"
#include "deepfool.h"

MEDADV_PLUGINS(
    medadv::attack<medadv::plugins::margin::CwLinf>(
        "cw-linf", "1.0.0",
        "PGD (L-inf) on the Carlini-Wagner margin loss (kappa from the experiment's kappa key), with restarts",
        medadv::ThreatModel::WhiteBox),
    medadv::attack<medadv::plugins::margin::CwL2>(
        "cw-l2", "1.0.0",
        "Carlini-Wagner L2: minimal-L2 perturbation by Adam in tanh space with a per-sample binary search on c",
        medadv::ThreatModel::WhiteBox),
    medadv::attack<medadv::plugins::margin::DeepFool>(
        "deepfool", "1.0.0",
        "DeepFool (L2 or L-inf): minimal untargeted steps to the nearest linearised decision boundary",
        medadv::ThreatModel::WhiteBox),
    medadv::attack<medadv::plugins::margin::Apgd>(
        "apgd", "1.0.0",
        "Auto-PGD (Croce & Hein 2020): momentum and per-sample step sizes halved at checkpoints; CE, CW or DLR loss",
        medadv::ThreatModel::WhiteBox))
