// The svm detector library: the plugin is in svm_detector.h, the libsvm wrapper in
// rbf_svm.cpp (an object library the tests link too).
#include <medadv/plugin.h>

#include "svm_detector.h"

MEDADV_PLUGINS(medadv::detector<medadv::plugins::svm::SvmDetector>(
    "svm", "1.0.0",
    "RBF-SVM (SafetyNet) on pooled penultimate features: C = 1, gamma = scale, libsvm probability of "
    "'adversarial'; differentiable"))
