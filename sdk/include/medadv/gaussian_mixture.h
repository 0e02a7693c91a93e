#pragma once
// Full-covariance Gaussian mixtures fitted by EM, on the data's device and batched over
// components: the `gmm` detector's class models and the HFC attack term's tap models
// (specs/DETECTORS.md "MGM and GMM", specs/ADAPTIVE.md "HFC"). Densities are
// differentiable in the input features, so detectors and attack terms built on them can
// be optimised against.
//
// Two fits, both seeded alike (k-means++: the chosen points as centres, every point
// assigned to its nearest centre, then one M-step) with the ridge added to every
// covariance's diagonal; computation in float64:
// - MixturePrior::None, maximum likelihood by EM as scikit-learn's
//   GaussianMixture(covariance_type="full"): stop when the mean per-sample
//   log-likelihood changes by less than the tolerance;
// - MixturePrior::DirichletProcess, variational inference as scikit-learn's
//   BayesianGaussianMixture(covariance_type="full") with its default priors (a
//   stick-breaking Dirichlet process of concentration 1/K on the weights; a Gaussian-
//   Wishart on each component: mean prior the data's mean with precision 1, degrees of
//   freedom D, covariance prior the data's covariance): stop when the evidence lower
//   bound changes by less than the tolerance. The prior pulls every covariance towards the
//   data's, so components with fewer points than dimensions stay well conditioned; the
//   fitted mixture keeps the posterior's expected weights, means and covariances (what
//   sklearn's weights_, means_ and covariances_ hold), which the HFC authors' code uses.
#include <cstdint>

#include <torch/torch.h>

#include "medadv/export.h"

namespace medadv {

enum class MixturePrior { None, DirichletProcess };

struct MEDADV_API GaussianMixtureOptions {
  std::int64_t components = 1;
  double ridge = 1e-6;  // added to each covariance's diagonal (sklearn's reg_covar)
  std::int64_t max_iterations = 1000;
  // On the change of the mean per-sample log-likelihood (EM) or of the evidence lower
  // bound summed over the samples (DirichletProcess), as sklearn's tol.
  double tolerance = 1e-3;
  std::uint64_t seed = 0;  // k-means++ draws (on the CPU: the same on every device)
  MixturePrior prior = MixturePrior::None;
  // Fits from different seeds (the first from `seed`); the one with the best final
  // log-likelihood (EM) or lower bound (DirichletProcess) is kept (sklearn's n_init).
  std::int64_t restarts = 1;
  // The component of each sample to start from, [N] integers in [0, components), instead
  // of the k-means++ seeding (then restarts must be 1).
  torch::Tensor initial_labels;
};

class MEDADV_API GaussianMixture {
 public:
  GaussianMixture() = default;

  // Fits `x` [N, D] (floating, finite, N >= components; N >= 2 with a prior) on x's
  // device. Deterministic for the data and the seed. Throws InvalidInput for bad input or
  // options.
  static GaussianMixture fit(const torch::Tensor& x, const GaussianMixtureOptions& options = {});
  // A mixture with the given weights [K] (positive; normalised to sum 1), means [K, D] and
  // symmetric positive definite covariances [K, D, D], on the means' device.
  static GaussianMixture from_parameters(const torch::Tensor& weights, const torch::Tensor& means,
                                         const torch::Tensor& covariances);

  bool fitted() const { return means_.defined(); }
  std::int64_t components() const { return means_.defined() ? means_.size(0) : 0; }
  std::int64_t dim() const { return means_.defined() ? means_.size(1) : 0; }

  // Per sample and component [N, K], in x's dtype on x's device, differentiable in x:
  //   squared_mahalanobis: (x - mu_k)^T Sigma_k^-1 (x - mu_k)
  //   component_log_density: log w_k + log N(x | mu_k, Sigma_k)
  torch::Tensor squared_mahalanobis(const torch::Tensor& x) const;
  torch::Tensor component_log_density(const torch::Tensor& x) const;
  // log sum_k w_k N(x | mu_k, Sigma_k) per sample [N], differentiable in x.
  torch::Tensor log_likelihood(const torch::Tensor& x) const;
  // argmax_k of component_log_density, [N] int64, without gradient.
  torch::Tensor most_responsible(const torch::Tensor& x) const;

  // Parameters, float64 on the fit device: log weights [K], means [K, D], covariances
  // [K, D, D] (ridge included) and the precisions' Cholesky factors U [K, D, D] (upper
  // triangular, Sigma_k^-1 = U_k U_k^T, sklearn's precisions_cholesky_).
  const torch::Tensor& log_weights() const { return log_weights_; }
  const torch::Tensor& means() const { return means_; }
  const torch::Tensor& covariances() const { return covariances_; }
  const torch::Tensor& precision_cholesky() const { return precision_cholesky_; }
  // Iterations run by the kept fit, whether it met the tolerance, and the final mean
  // per-sample log-likelihood of the fit data (0 and true for from_parameters).
  std::int64_t iterations() const { return iterations_; }
  bool converged() const { return converged_; }
  double mean_log_likelihood() const { return mean_log_likelihood_; }
  // The kept fit's last bound, as sklearn's lower_bound_: the mean per-sample
  // log-likelihood of its last E-step (EM), or the evidence lower bound without its
  // constants (DirichletProcess); 0 for from_parameters.
  double lower_bound() const { return lower_bound_; }

  // The same mixture with its parameters on `device`.
  GaussianMixture to(c10::Device device) const;

 private:
  // Stores the covariances and their factors; returns a device bool: every one factored.
  torch::Tensor set_covariances(const torch::Tensor& covariances);
  torch::Tensor squared_double(const torch::Tensor& x) const;      // [N, K] float64
  torch::Tensor log_density_double(const torch::Tensor& x) const;  // [N, K] float64

  static GaussianMixture fit_em(const torch::Tensor& data, const GaussianMixtureOptions& options, std::uint64_t seed,
                                double& final_bound);
  static GaussianMixture fit_variational(const torch::Tensor& data, const GaussianMixtureOptions& options,
                                         std::uint64_t seed, double& final_bound);

  torch::Tensor log_weights_, means_, covariances_, precision_cholesky_;
  torch::Tensor log_det_precision_half_;  // [K]: sum log diag(U_k) = -0.5 log det Sigma_k
  std::int64_t iterations_ = 0;
  bool converged_ = true;
  double mean_log_likelihood_ = 0.0;
  double lower_bound_ = 0.0;
};

}  // namespace medadv
