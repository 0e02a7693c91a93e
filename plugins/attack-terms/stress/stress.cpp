// The stress attack-term library. Each term's implementation lives in its own header so
// that tests can include it: plugin libraries export nothing but their entry symbol.
#include <medadv/plugin.h>

#include "feature_stress.h"

MEDADV_PLUGINS(medadv::attack_term<medadv::plugins::stress::FeatureStress>(
    "feature-stress", "1.0.0",
    "Feature stress test: pushes the mean activation of a model tap down or up; reports it before and after"))
