// The adversarial-training library. The trainers live in headers so that tests can
// include them: plugin libraries export nothing but their entry symbol.
#include <medadv/plugin.h>

#include "trainers.h"

namespace at_ = medadv::plugins::adversarial_training;

MEDADV_PLUGINS(
    medadv::trainer<at_::PgdAt>("pgd-at", "1.0.0",
                                "PGD adversarial training (Madry et al. 2018): the task loss on inner-attack "
                                "examples only (cross-entropy; BCE for segmentation)"),
    medadv::trainer<at_::FastAt>("fast-at", "1.0.0",
                                 "Fast adversarial training (Wong et al. 2020): FGSM of step 1.25 epsilon from a "
                                 "uniform random start"),
    medadv::trainer<at_::Trades>("trades", "1.0.0",
                                 "TRADES (Zhang et al. 2019): CE(clean) + beta KL(p(clean) || p(adv)), the inner "
                                 "attack maximising the KL"),
    medadv::trainer<at_::Mart>("mart", "1.0.0",
                               "MART (Wang et al. 2020): boosted CE on adversarial examples + beta KL weighted by "
                               "1 - p_y(clean)"),
    medadv::trainer<at_::MpAdvT>("mpadvt", "1.0.0",
                                 "MPAdvT (Xu et al. 2021): each batch replaced with probability 0.5 by PGD examples "
                                 "of a random budget and step count"))
