// The gradient attack family library. Each plugin's implementation lives in its own
// header (the iterative members are presets of iterative.h; shared machinery in
// gradient_steps.h) so that tests can include it: plugin libraries export nothing but
// their entry symbol.
#include <medadv/plugin.h>

#include "bim.h"
#include "dim.h"
#include "fgsm.h"
#include "mim.h"
#include "pgd.h"
#include "tim.h"
#include "uap.h"

namespace g = medadv::plugins::gradient;

MEDADV_PLUGINS(
    medadv::attack<g::Fgsm>("fgsm", "1.0.0",
                            "Fast gradient sign method: one L-inf step of size epsilon along sign(grad)",
                            medadv::ThreatModel::WhiteBox),
    medadv::attack<g::Bim>("bim", "1.0.0",
                           "Basic iterative method / I-FGSM: 10 signed steps of epsilon/10 from the clean image; "
                           "accepts the family's momentum, input diversity and translation options",
                           medadv::ThreatModel::WhiteBox),
    medadv::attack<g::Pgd>("pgd", "1.1.0",
                           "Projected gradient descent (L-inf or L2) with random start and restarts; accepts the "
                           "family's momentum, input diversity and translation options",
                           medadv::ThreatModel::WhiteBox),
    medadv::attack<g::Mim>("mim", "1.0.0",
                           "Momentum iterative FGSM (MI-FGSM): BIM with momentum 1.0 on mean-abs-normalised "
                           "gradients",
                           medadv::ThreatModel::WhiteBox),
    medadv::attack<g::Dim>("dim", "1.0.0",
                           "Diverse-input iterative FGSM (DI-2-FGSM): BIM with a random resize-and-pad of the "
                           "input (p = 0.5) before each forward; with momentum it is M-DI2-FGSM",
                           medadv::ThreatModel::WhiteBox),
    medadv::attack<g::Tim>("tim", "1.0.0",
                           "Translation-invariant iterative FGSM (TI-FGSM): BIM with the gradient smoothed by a "
                           "Gaussian kernel; with input diversity it is TI-DIM",
                           medadv::ThreatModel::WhiteBox),
    medadv::attack<g::Uap>("uap", "1.0.0",
                           "Universal adversarial perturbation: one delta fitted on adv_train by sign-gradient "
                           "ascent over batches, applied to every image",
                           medadv::ThreatModel::WhiteBox))
