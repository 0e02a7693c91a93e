// The dnn detector library: the plugin is in dnn_detector.h (header-only so that tests
// can use it without the library's entry symbol).
#include <medadv/plugin.h>

#include "dnn_detector.h"

MEDADV_PLUGINS(medadv::detector<medadv::plugins::dnn::DnnDetector>(
    "dnn", "1.0.0",
    "Metzen et al.'s detector: a small conv net per tap trained clean vs adversarial (BCE, Adam); score = sum "
    "of the per-tap logits; differentiable"))
