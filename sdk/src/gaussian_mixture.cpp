// EM for full-covariance Gaussian mixtures (definitions in medadv/gaussian_mixture.h).
#include "medadv/gaussian_mixture.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "medadv/error.h"
#include "medadv/torch_compat.h"

namespace medadv {

namespace {

// EM copies its convergence flag to the host this often; in between nothing waits for
// the device (a converged fit freezes its parameters on the device, so the result is
// the same as checking after every iteration).
constexpr std::int64_t kCheckEvery = 10;
// Per-component work is done in chunks of components whose [k, N, D] temporaries stay
// below this many elements.
constexpr std::int64_t kChunkElements = std::int64_t{1} << 24;
// Keeps the weight of a component that lost every point positive (as sklearn does).
const double kLog2Pi = std::log(2.0 * 3.14159265358979323846);
constexpr double kEmptyComponentMass = 10 * std::numeric_limits<double>::epsilon();

std::string shape_text(const torch::Tensor& t) { return t.defined() ? c10::str(t.sizes()) : "(undefined)"; }

std::int64_t chunk_size(std::int64_t n, std::int64_t d, std::int64_t k) {
  return std::clamp<std::int64_t>(kChunkElements / std::max<std::int64_t>(n * d, 1), 1, std::max<std::int64_t>(k, 1));
}

// Squared distances [N, K] between rows of x [N, D] and centres [K, D].
torch::Tensor squared_distances(const torch::Tensor& x, const torch::Tensor& centres) {
  return (x.pow(2).sum(1, true) - 2.0 * torch::matmul(x, centres.t()) + centres.pow(2).sum(1).unsqueeze(0))
      .clamp_min(0.0);
}

// k-means++ seeding (Arthur and Vassilvitskii 2007): the first centre uniformly, each
// next one with probability proportional to the squared distance to the closest centre
// chosen so far. The uniform draws come from a seeded CPU generator and the choice is
// made on the device by inverting the cumulative distribution, so nothing waits.
torch::Tensor kmeans_plus_plus(const torch::Tensor& x, std::int64_t k, std::uint64_t seed) {
  auto gen = compat::cpu_generator(seed);
  const auto u = torch::rand({k}, gen, torch::TensorOptions().dtype(torch::kDouble)).to(x.device());
  const std::int64_t n = x.size(0);
  std::vector<torch::Tensor> centres;
  auto index = (u.slice(0, 0, 1) * static_cast<double>(n)).floor().clamp_max(static_cast<double>(n - 1)).to(torch::kLong);
  centres.push_back(x.index_select(0, index));
  auto closest = squared_distances(x, centres.back()).squeeze(1);  // [N]
  for (std::int64_t c = 1; c < k; ++c) {
    const auto cdf = closest.cumsum(0);
    const auto target = u.slice(0, c, c + 1) * cdf.slice(0, n - 1, n);
    index = torch::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true).clamp_max(n - 1);
    centres.push_back(x.index_select(0, index));
    closest = torch::minimum(closest, squared_distances(x, centres.back()).squeeze(1));
  }
  return torch::cat(centres);
}

// Sufficient statistics of responsibilities [N, K] (sklearn's _estimate_gaussian_parameters):
// each component's mass, mean and covariance, the ridge on its diagonal.
struct Statistics {
  torch::Tensor mass, means, covariances;  // [K], [K, D], [K, D, D]
};

Statistics gaussian_statistics(const torch::Tensor& x, const torch::Tensor& resp, double ridge) {
  const std::int64_t n = x.size(0), d = x.size(1), k = resp.size(1);
  Statistics s;
  s.mass = resp.sum(0) + kEmptyComponentMass;
  s.means = torch::matmul(resp.t(), x) / s.mass.unsqueeze(1);
  std::vector<torch::Tensor> covariances;
  const std::int64_t step = chunk_size(n, d, k);
  for (std::int64_t start = 0; start < k; start += step) {
    const std::int64_t end = std::min(start + step, k);
    const auto diff = x.unsqueeze(0) - s.means.slice(0, start, end).unsqueeze(1);  // [k, N, D]
    const auto weighted = diff * resp.slice(1, start, end).t().unsqueeze(2);        // [k, N, D]
    covariances.push_back(torch::matmul(weighted.transpose(1, 2), diff) /
                          s.mass.slice(0, start, end).view({-1, 1, 1}));  // [k, D, D]
  }
  const auto cov = torch::cat(covariances);
  s.covariances = 0.5 * (cov + cov.transpose(1, 2)) + ridge * torch::eye(d, x.options()).unsqueeze(0);
  return s;
}

// One-hot responsibilities [N, K]: the given labels, or every point to its nearest
// k-means++ centre.
torch::Tensor seeded_responsibilities(const torch::Tensor& x, const GaussianMixtureOptions& o, std::uint64_t seed) {
  const std::int64_t k = o.components;
  if (o.initial_labels.defined())
    return torch::one_hot(o.initial_labels.to(x.device(), torch::kLong), k).to(torch::kDouble);
  const auto centres = kmeans_plus_plus(x, k, seed);
  return torch::one_hot(squared_distances(x, centres).argmin(1), k).to(torch::kDouble);
}

// The seed of restart r: the caller's own for the first.
std::uint64_t restart_seed(std::uint64_t seed, std::int64_t r) {
  return seed ^ (0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(r));
}

// The variational posterior of the Dirichlet-process mixture (sklearn's
// BayesianGaussianMixture, covariance_type "full"), and its priors.
struct Priors {
  double weight_concentration;  // 1/K
  double mean_precision = 1.0;
  torch::Tensor mean;           // [D], the data's mean
  double degrees_of_freedom;    // D
  torch::Tensor covariance;     // [D, D], the data's covariance (N - 1 in the denominator)
};

struct Posterior {
  torch::Tensor concentration_a, concentration_b;  // the sticks' Beta parameters [K]
  torch::Tensor mean_precision, degrees_of_freedom;  // [K]
  torch::Tensor means, covariances;                  // [K, D], [K, D, D]: W_k^-1 / nu_k
};

Posterior variational_m_step(const Statistics& s, const Priors& prior) {
  Posterior q;
  q.concentration_a = 1.0 + s.mass;
  // Mass of the later components: sum_{j > k} N_j.
  const auto later = s.mass.flip(0).cumsum(0).flip(0) - s.mass;
  q.concentration_b = prior.weight_concentration + later;
  q.mean_precision = prior.mean_precision + s.mass;
  q.means = (prior.mean_precision * prior.mean.unsqueeze(0) + s.mass.unsqueeze(1) * s.means) /
            q.mean_precision.unsqueeze(1);
  q.degrees_of_freedom = prior.degrees_of_freedom + s.mass;
  const auto diff = s.means - prior.mean.unsqueeze(0);  // [K, D]
  const auto spread = (s.mass * prior.mean_precision / q.mean_precision).view({-1, 1, 1}) *
                      diff.unsqueeze(2) * diff.unsqueeze(1);
  q.covariances = (prior.covariance.unsqueeze(0) + s.mass.view({-1, 1, 1}) * s.covariances + spread) /
                  q.degrees_of_freedom.view({-1, 1, 1});
  return q;
}

// E[log pi_k] under the stick-breaking posterior.
torch::Tensor expected_log_weights(const Posterior& q) {
  const auto digamma_sum = torch::digamma(q.concentration_a + q.concentration_b);
  const auto stick_left = torch::digamma(q.concentration_b) - digamma_sum;
  const auto before = stick_left.cumsum(0) - stick_left;  // sum over j < k
  return torch::digamma(q.concentration_a) - digamma_sum + before;
}

// sum_{i=0}^{D-1} f(0.5 (nu_k - i)) per component, f = digamma or lgamma.
template <typename F>
torch::Tensor sum_over_dimensions(const torch::Tensor& nu, std::int64_t d, F f) {
  const auto i = torch::arange(d, nu.options()).unsqueeze(1);  // [D, 1]
  return f(0.5 * (nu.unsqueeze(0) - i)).sum(0);
}

// The posterior's expected weights (sklearn's weights_ for the Dirichlet process), [K].
torch::Tensor expected_weights(const Posterior& q) {
  const auto total = q.concentration_a + q.concentration_b;
  const auto left = q.concentration_b / total;
  const auto before = torch::cat({torch::ones({1}, left.options()), left.slice(0, 0, -1).cumprod(0)});
  const auto w = q.concentration_a / total * before;
  return w / w.sum();
}

}  // namespace

torch::Tensor GaussianMixture::set_covariances(const torch::Tensor& covariances) {
  covariances_ = covariances;
  // No error check inside (it would wait for the device): the caller reads the flag.
  const auto factored = torch::linalg_cholesky_ex(covariances, /*upper=*/false, /*check_errors=*/false);
  const torch::Tensor& lower = std::get<0>(factored);
  const auto identity = torch::eye(covariances.size(1), covariances.options()).expand_as(covariances);
  // U = L^-T: Sigma^-1 = L^-T L^-1 = U U^T.
  precision_cholesky_ =
      torch::linalg_solve_triangular(lower, identity, /*upper=*/false, /*left=*/true, /*unitriangular=*/false)
          .transpose(1, 2)
          .contiguous();
  log_det_precision_half_ = -lower.diagonal(0, 1, 2).log().sum(1);
  return std::get<1>(factored).eq(0).all();
}

GaussianMixture GaussianMixture::from_parameters(const torch::Tensor& weights, const torch::Tensor& means,
                                                 const torch::Tensor& covariances) {
  const std::string who = "GaussianMixture::from_parameters";
  if (!means.defined() || means.dim() != 2 || means.size(0) < 1 || means.size(1) < 1)
    throw InvalidInput(who + ": means must be [K, D], got " + shape_text(means));
  const std::int64_t k = means.size(0), d = means.size(1);
  if (!weights.defined() || weights.dim() != 1 || weights.size(0) != k)
    throw InvalidInput(who + ": weights must be [" + std::to_string(k) + "], got " + shape_text(weights));
  if (!covariances.defined() || covariances.dim() != 3 || covariances.size(0) != k || covariances.size(1) != d ||
      covariances.size(2) != d)
    throw InvalidInput(who + ": covariances must be [" + std::to_string(k) + ", " + std::to_string(d) + ", " +
                       std::to_string(d) + "], got " + shape_text(covariances));
  const auto opts = means.options().dtype(torch::kDouble);
  const auto w = weights.detach().to(opts);
  if (!(w > 0).all().item<bool>()) throw InvalidInput(who + ": weights must be positive");
  GaussianMixture g;
  g.log_weights_ = (w / w.sum()).log();
  g.means_ = means.detach().to(opts);
  const auto cov = covariances.detach().to(opts);
  const auto info = std::get<1>(torch::linalg_cholesky_ex(cov, false, false));
  if ((info != 0).any().item<bool>())
    throw InvalidInput(who + ": every covariance must be symmetric positive definite");
  g.set_covariances(0.5 * (cov + cov.transpose(1, 2)));
  return g;
}

GaussianMixture GaussianMixture::fit(const torch::Tensor& x, const GaussianMixtureOptions& options) {
  const std::string who = "GaussianMixture::fit";
  if (!x.defined() || x.dim() != 2 || !x.is_floating_point() || x.size(1) < 1)
    throw InvalidInput(who + ": data must be a floating [N, D] tensor, got " + shape_text(x));
  if (options.components < 1) throw InvalidInput(who + ": components must be >= 1");
  if (x.size(0) < options.components)
    throw InvalidInput(who + ": " + std::to_string(options.components) + " components need at least as many samples, got " +
                       std::to_string(x.size(0)));
  if (options.prior != MixturePrior::None && x.size(0) < 2)
    throw InvalidInput(who + ": the Dirichlet-process prior needs at least two samples (the data's covariance)");
  if (!(options.ridge >= 0.0)) throw InvalidInput(who + ": ridge must be >= 0");
  if (options.max_iterations < 1) throw InvalidInput(who + ": max_iterations must be >= 1");
  if (!(options.tolerance >= 0.0)) throw InvalidInput(who + ": tolerance must be >= 0");
  if (options.restarts < 1) throw InvalidInput(who + ": restarts must be >= 1");
  if (options.initial_labels.defined()) {
    const auto& l = options.initial_labels;
    if (l.dim() != 1 || l.size(0) != x.size(0) || l.is_floating_point() || l.is_complex())
      throw InvalidInput(who + ": initial_labels must be [" + std::to_string(x.size(0)) + "] integers, got " +
                         shape_text(l));
    if (l.size(0) > 0 && (l.min().item<std::int64_t>() < 0 || l.max().item<std::int64_t>() >= options.components))
      throw InvalidInput(who + ": initial_labels must lie in [0, " + std::to_string(options.components) + ")");
    if (options.restarts != 1) throw InvalidInput(who + ": initial_labels fix the start; restarts must be 1");
  }
  const auto data = x.detach().to(torch::kDouble);
  if (!torch::isfinite(data).all().item<bool>()) throw InvalidInput(who + ": data contain NaN or infinite values");

  GaussianMixture best;
  double best_bound = -std::numeric_limits<double>::infinity();
  for (std::int64_t r = 0; r < options.restarts; ++r) {
    double bound = -std::numeric_limits<double>::infinity();
    GaussianMixture g = options.prior == MixturePrior::None
                            ? fit_em(data, options, restart_seed(options.seed, r), bound)
                            : fit_variational(data, options, restart_seed(options.seed, r), bound);
    if (r == 0 || bound > best_bound) {
      best = std::move(g);
      best_bound = bound;
    }
  }
  best.mean_log_likelihood_ = best.log_likelihood(data).mean().item<double>();
  best.lower_bound_ = best_bound;
  return best;
}

GaussianMixture GaussianMixture::fit_em(const torch::Tensor& data, const GaussianMixtureOptions& options,
                                        std::uint64_t seed, double& final_bound) {
  const std::string who = "GaussianMixture::fit";
  auto resp = seeded_responsibilities(data, options, seed);
  const std::int64_t n = data.size(0);
  GaussianMixture g;
  {
    const Statistics s = gaussian_statistics(data, resp, options.ridge);
    g.log_weights_ = (s.mass / static_cast<double>(n)).log();
    g.means_ = s.means;
    if (!g.set_covariances(s.covariances).item<bool>())
      throw Error(who + ": a covariance of the initial mixture is not positive definite; raise the ridge (now " +
                  std::to_string(options.ridge) + ")");
  }

  const auto device_options = data.options();
  auto done = torch::zeros({}, device_options.dtype(torch::kBool));
  auto failed = torch::zeros({}, device_options.dtype(torch::kBool));
  auto iterations = torch::zeros({}, device_options.dtype(torch::kLong));
  auto previous = torch::full({}, -std::numeric_limits<double>::infinity(), device_options);
  for (std::int64_t it = 1; it <= options.max_iterations; ++it) {
    // E-step.
    const auto log_prob = g.log_density_double(data);
    const auto log_norm = torch::logsumexp(log_prob, 1, /*keepdim=*/true);
    const auto lower_bound = log_norm.mean();
    resp = (log_prob - log_norm).exp();
    // M-step, applied while not converged (the iteration that detects convergence still
    // applies its M-step, as sklearn does).
    const Statistics s = gaussian_statistics(data, resp, options.ridge);
    GaussianMixture next;
    next.log_weights_ = (s.mass / static_cast<double>(n)).log();
    next.means_ = s.means;
    const auto factored = next.set_covariances(s.covariances);
    failed = failed.logical_or(factored.logical_not().logical_and(done.logical_not()));
    g.log_weights_ = torch::where(done, g.log_weights_, next.log_weights_);
    g.means_ = torch::where(done, g.means_, next.means_);
    g.covariances_ = torch::where(done, g.covariances_, next.covariances_);
    g.precision_cholesky_ = torch::where(done, g.precision_cholesky_, next.precision_cholesky_);
    g.log_det_precision_half_ = torch::where(done, g.log_det_precision_half_, next.log_det_precision_half_);
    iterations = iterations + done.logical_not().to(torch::kLong);
    const auto met = (lower_bound - previous).abs() < options.tolerance;
    previous = torch::where(done, previous, lower_bound);
    done = done.logical_or(met);
    if (it % kCheckEvery == 0 || it == options.max_iterations) {
      if (failed.item<bool>())
        throw Error(who + ": a covariance lost positive definiteness during EM; raise the ridge (now " +
                    std::to_string(options.ridge) + ")");
      if (done.item<bool>()) break;
    }
  }
  g.iterations_ = iterations.item<std::int64_t>();
  g.converged_ = done.item<bool>();
  final_bound = previous.item<double>();
  return g;
}

// sklearn's BayesianGaussianMixture.fit for one initialisation: E-step, M-step, lower
// bound, until the bound changes by less than the tolerance. The bound is read on the
// host every iteration; a fit runs once per class and tap, and its [K, N, D] work, not
// the wait, is what costs.
GaussianMixture GaussianMixture::fit_variational(const torch::Tensor& data, const GaussianMixtureOptions& options,
                                                 std::uint64_t seed, double& final_bound) {
  const std::string who = "GaussianMixture::fit";
  const std::int64_t n = data.size(0), d = data.size(1), k = options.components;
  Priors prior;
  prior.weight_concentration = 1.0 / static_cast<double>(k);
  prior.mean = data.mean(0);
  prior.degrees_of_freedom = static_cast<double>(d);
  const auto centred = data - prior.mean.unsqueeze(0);
  prior.covariance = torch::matmul(centred.t(), centred) / static_cast<double>(n - 1);

  GaussianMixture g;
  Posterior q;
  auto update = [&](const torch::Tensor& resp) {
    q = variational_m_step(gaussian_statistics(data, resp, options.ridge), prior);
    g.means_ = q.means;
    if (!g.set_covariances(q.covariances).item<bool>())
      throw Error(who + ": a posterior covariance is not positive definite; raise the ridge (now " +
                  std::to_string(options.ridge) + ")");
  };
  update(seeded_responsibilities(data, options, seed));

  const double half_d_log2 = 0.5 * static_cast<double>(d) * std::log(2.0);
  double bound = -std::numeric_limits<double>::infinity();
  g.converged_ = false;
  for (std::int64_t it = 1; it <= options.max_iterations; ++it) {
    const double previous = bound;
    // E-step: E[log pi_k] + E[log N(x | mu_k, Lambda_k)] (sklearn's _estimate_log_prob,
    // whose covariances are W_k^-1 / nu_k: hence the -D/2 log nu_k).
    const auto log_gauss = g.log_det_precision_half_ - 0.5 * static_cast<double>(d) * kLog2Pi -
                           0.5 * g.squared_double(data) - 0.5 * static_cast<double>(d) * q.degrees_of_freedom.log();
    const auto log_lambda = 2.0 * half_d_log2 + sum_over_dimensions(q.degrees_of_freedom, d, [](const torch::Tensor& t) {
                              return torch::digamma(t);
                            });
    const auto weighted = log_gauss + 0.5 * (log_lambda - static_cast<double>(d) / q.mean_precision) +
                          expected_log_weights(q);
    const auto log_resp = weighted - torch::logsumexp(weighted, 1, /*keepdim=*/true);
    const auto resp = log_resp.exp();
    update(resp);
    // The lower bound without its constants (sklearn's _compute_lower_bound).
    const auto log_det_chol = g.log_det_precision_half_ - 0.5 * static_cast<double>(d) * q.degrees_of_freedom.log();
    const auto log_wishart_norm =
        -(q.degrees_of_freedom * log_det_chol + q.degrees_of_freedom * half_d_log2 +
          sum_over_dimensions(q.degrees_of_freedom, d, [](const torch::Tensor& t) { return torch::lgamma(t); }));
    const auto log_beta = torch::lgamma(q.concentration_a) + torch::lgamma(q.concentration_b) -
                          torch::lgamma(q.concentration_a + q.concentration_b);
    const auto entropy = -torch::where(resp > 0, resp * log_resp, torch::zeros_like(resp)).sum();
    bound = (entropy - log_wishart_norm.sum() + log_beta.sum() -
             0.5 * static_cast<double>(d) * q.mean_precision.log().sum())
                .item<double>();
    g.iterations_ = it;
    if (std::abs(bound - previous) < options.tolerance) {
      g.converged_ = true;
      break;
    }
  }
  g.log_weights_ = expected_weights(q).log();
  final_bound = bound;
  return g;
}

torch::Tensor GaussianMixture::squared_double(const torch::Tensor& x) const {
  if (!fitted()) throw Error("GaussianMixture: not fitted");
  if (!x.defined() || x.dim() != 2 || x.size(1) != dim())
    throw InvalidInput("GaussianMixture: features must be [N, " + std::to_string(dim()) + "], got " + shape_text(x));
  const auto device = x.device();
  const auto xd = x.to(torch::kDouble);
  const auto u = precision_cholesky_.to(device);
  const auto means = means_.to(device);
  const std::int64_t k = components(), n = xd.size(0), d = dim();
  std::vector<torch::Tensor> parts;
  const std::int64_t step = chunk_size(n, d, k);
  for (std::int64_t start = 0; start < k; start += step) {
    const std::int64_t end = std::min(start + step, k);
    const auto uk = u.slice(0, start, end);                                          // [k, D, D]
    const auto projected = torch::matmul(xd.unsqueeze(0), uk);                       // [k, N, D]
    const auto centre = torch::matmul(means.slice(0, start, end).unsqueeze(1), uk);  // [k, 1, D]
    parts.push_back((projected - centre).pow(2).sum(2).t());                          // [N, k]
  }
  return torch::cat(parts, 1);
}

torch::Tensor GaussianMixture::log_density_double(const torch::Tensor& x) const {
  const auto squared = squared_double(x);
  const auto device = x.device();
  return log_weights_.to(device) + log_det_precision_half_.to(device) -
         0.5 * static_cast<double>(dim()) * kLog2Pi - 0.5 * squared;
}

torch::Tensor GaussianMixture::squared_mahalanobis(const torch::Tensor& x) const {
  return squared_double(x).to(x.scalar_type());
}

torch::Tensor GaussianMixture::component_log_density(const torch::Tensor& x) const {
  return log_density_double(x).to(x.scalar_type());
}

torch::Tensor GaussianMixture::log_likelihood(const torch::Tensor& x) const {
  return torch::logsumexp(log_density_double(x), 1).to(x.scalar_type());
}

torch::Tensor GaussianMixture::most_responsible(const torch::Tensor& x) const {
  torch::NoGradGuard no_grad;
  return log_density_double(x.detach()).argmax(1);
}

GaussianMixture GaussianMixture::to(c10::Device device) const {
  GaussianMixture g = *this;
  if (!fitted()) return g;
  g.log_weights_ = log_weights_.to(device);
  g.means_ = means_.to(device);
  g.covariances_ = covariances_.to(device);
  g.precision_cholesky_ = precision_cholesky_.to(device);
  g.log_det_precision_half_ = log_det_precision_half_.to(device);
  return g;
}

}  // namespace medadv
