// The feature-squeezing detector library: the plugin is in feature_squeezing.h.
#include <medadv/plugin.h>

#include "feature_squeezing.h"

MEDADV_PLUGINS(medadv::detector<medadv::plugins::squeeze::FeatureSqueezing>(
    "feature-squeezing", "1.0.0",
    "Feature squeezing (Xu et al.): max over squeezers (bit depth 4/5 bits, median 2x2 and 3x3) of the L1 "
    "distance between softmax outputs; unsupervised"))
