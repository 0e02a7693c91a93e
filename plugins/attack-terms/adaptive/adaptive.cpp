// The adaptive attack-term library. Each term's implementation lives in its own header so
// that tests can include it: plugin libraries export nothing but their entry symbol.
#include <medadv/plugin.h>

#include "detector_evasion.h"
#include "feature_match.h"
#include "hfc.h"
#include "kde_evasion.h"
#include "lid_evasion.h"

MEDADV_PLUGINS(medadv::attack_term<medadv::plugins::adaptive::Hfc>(
                   "hfc", "1.0.0",
                   "Hierarchical feature constraint: keeps the adversarial features in the target class's Gaussian "
                   "mixtures"),
               medadv::attack_term<medadv::plugins::adaptive::FeatureMatch>(
                   "feature-match", "1.0.0",
                   "Feature matching (Sabour et al.): pulls each image's features at a tap onto a guide image's of "
                   "its target class (random or closest)"),
               medadv::attack_term<medadv::plugins::adaptive::KdeEvasion>(
                   "kde-evasion", "1.0.0",
                   "KDE evasion (Carlini and Wagner): raises the target class's kernel density at the kd "
                   "detector's tap"),
               medadv::attack_term<medadv::plugins::adaptive::LidEvasion>(
                   "lid-evasion", "1.0.0",
                   "LID evasion: lowers the local intrinsic dimensionality of the features against a clean "
                   "reference batch"),
               medadv::attack_term<medadv::plugins::adaptive::DetectorEvasion>(
                   "detector-evasion", "1.0.0",
                   "Detector evasion: lowers the adversarial score of a [[detector]] of the experiment, fitted by "
                   "the host on the attack that detectors_fit_on names"))
