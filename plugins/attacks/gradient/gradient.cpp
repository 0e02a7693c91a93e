// The gradient attack family library. Each plugin's implementation lives in its own
// header (shared machinery in gradient_steps.h) so that tests can include it: plugin
// libraries export nothing but their entry symbol.
#include <medadv/plugin.h>

#include "fgsm.h"
#include "pgd.h"

MEDADV_PLUGINS(
    medadv::attack<medadv::plugins::gradient::Fgsm>(
        "fgsm", "1.0.0", "Fast gradient sign method: one L-inf step of size epsilon along sign(grad)",
        medadv::ThreatModel::WhiteBox),
    medadv::attack<medadv::plugins::gradient::Pgd>(
        "pgd", "1.0.0",
        "Projected gradient descent (L-inf or L2) with random start and restarts; BIM without random start",
        medadv::ThreatModel::WhiteBox))
