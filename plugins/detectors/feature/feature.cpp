// The feature-space detector family library. Each detector lives in its own header so
// that tests can include it: plugin libraries export nothing but their entry symbol.
#include <medadv/plugin.h>

#include "bu.h"
#include "gmm.h"
#include "kd.h"
#include "kd_bu.h"
#include "lid.h"
#include "mahalanobis.h"
#include "mgm.h"

namespace f = medadv::plugins::feature;

MEDADV_PLUGINS(
    medadv::detector<f::Kd>("kd", "1.0.0",
                            "Kernel density (Feinman et al.): minus the log density of the input's features under a "
                            "Gaussian KDE of its predicted class's clean features"),
    medadv::detector<f::Bu>("bu", "1.0.0",
                            "Bayesian uncertainty (Feinman et al.): variance of the softmax over 50 passes with "
                            "dropout before the classifier head; attacks that saturate the wrong class lower it"),
    medadv::detector<f::KdBu>("kd-bu", "1.0.0",
                              "Kernel density and Bayesian uncertainty combined by a logistic regression fitted on "
                              "clean and adversarial images"),
    medadv::detector<f::Lid>("lid", "1.0.0",
                             "Local intrinsic dimensionality (Ma et al.): per-tap MLE LID against a clean reference "
                             "batch, combined by a logistic regression"),
    medadv::detector<f::Mahalanobis>("mahalanobis", "1.0.0",
                                     "Mahalanobis distance to the closest class mean under a tied covariance, per "
                                     "tap (Lee et al.), optional input preprocessing, logistic or mean combination"),
    medadv::detector<f::Mgm>("mgm", "1.0.0",
                             "Multivariate Gaussian model (Li and Zhu): Mahalanobis distance to the predicted "
                             "class's Gaussian, averaged over taps; unsupervised"),
    medadv::detector<f::Gmm>("gmm", "1.0.0",
                             "Gaussian mixture per class fitted by EM: minus the log-likelihood of the input's "
                             "features under its predicted class's mixture; unsupervised"))
