#pragma once
// Binary logistic regression on feature vectors [N, D]: the combiner of kd-bu, lid and
// mahalanobis (specs/DETECTORS.md) and of any detector that learns a weighting of a few
// scores. Features are z-scored inside (mean and standard deviation of the fit data), the
// weights carry an L2 penalty, and the fit is Newton's method on the fit data's device,
// deterministic for the data (no random initialisation, no shuffling).
#include <cstdint>

#include <torch/torch.h>

#include "medadv/export.h"

namespace medadv {

struct MEDADV_API LogisticRegressionOptions {
  // Minimised: sum_i log(1 + exp(-s_i * logit_i)) + (l2 / 2) * ||w||^2, s_i = +-1, w the
  // weights on the z-scored features (the bias is not penalised). sklearn's C = 1 / l2;
  // its default C = 1 is the default here.
  double l2 = 1.0;
  std::int64_t max_iterations = 100;
  // Converged when every element of the objective's gradient is below this (the check
  // runs every few iterations, so the device is not waited for at every step).
  double tolerance = 1e-8;
};

class MEDADV_API LogisticRegression {
 public:
  LogisticRegression() = default;

  // `features` [N, D] floating, `positive` [N] bool or 0/1 (1 = positive, e.g.
  // adversarial). Both classes must be present. Fits on the features' device in float64.
  // Throws InvalidInput for bad shapes, non-finite features or a single class.
  static LogisticRegression fit(const torch::Tensor& features, const torch::Tensor& positive,
                                const LogisticRegressionOptions& options = {});

  bool fitted() const { return weights_.defined(); }
  // The logit w . z(f) + b per row [N], in the features' dtype, on their device,
  // differentiable in `features`. Throws Error when not fitted or for a wrong width.
  torch::Tensor predict_logit(const torch::Tensor& features) const;
  // sigmoid(predict_logit).
  torch::Tensor predict_probability(const torch::Tensor& features) const;

  // Fitted state (float64, on the fit device): z(f) = (f - mean) / scale, constant
  // features get scale 1; weights on z, and the bias.
  const torch::Tensor& mean() const { return mean_; }
  const torch::Tensor& scale() const { return scale_; }
  const torch::Tensor& weights() const { return weights_; }
  const torch::Tensor& bias() const { return bias_; }  // scalar tensor
  std::int64_t iterations() const { return iterations_; }
  std::int64_t dim() const { return weights_.defined() ? weights_.size(0) : 0; }

 private:
  torch::Tensor mean_, scale_, weights_, bias_;
  std::int64_t iterations_ = 0;
};

}  // namespace medadv
