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

struct Parameters {
  torch::Tensor log_weights, means, covariances;
};

// The M-step: weights, means and covariances (plus ridge) from responsibilities [N, K].
Parameters m_step(const torch::Tensor& x, const torch::Tensor& resp, double ridge) {
  const std::int64_t n = x.size(0), d = x.size(1), k = resp.size(1);
  const auto mass = resp.sum(0) + kEmptyComponentMass;  // [K]
  Parameters p;
  p.log_weights = (mass / static_cast<double>(n)).log();
  p.means = torch::matmul(resp.t(), x) / mass.unsqueeze(1);
  std::vector<torch::Tensor> covariances;
  const std::int64_t step = chunk_size(n, d, k);
  for (std::int64_t start = 0; start < k; start += step) {
    const std::int64_t end = std::min(start + step, k);
    const auto diff = x.unsqueeze(0) - p.means.slice(0, start, end).unsqueeze(1);             // [k, N, D]
    const auto weighted = diff * resp.slice(1, start, end).t().unsqueeze(2);                   // [k, N, D]
    covariances.push_back(torch::matmul(weighted.transpose(1, 2), diff) /
                          mass.slice(0, start, end).view({-1, 1, 1}));                         // [k, D, D]
  }
  auto cov = torch::cat(covariances);
  cov = 0.5 * (cov + cov.transpose(1, 2)) + ridge * torch::eye(d, x.options()).unsqueeze(0);
  p.covariances = cov;
  return p;
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
  if (!(options.ridge >= 0.0)) throw InvalidInput(who + ": ridge must be >= 0");
  if (options.max_iterations < 1) throw InvalidInput(who + ": max_iterations must be >= 1");
  if (!(options.tolerance >= 0.0)) throw InvalidInput(who + ": tolerance must be >= 0");
  const auto data = x.detach().to(torch::kDouble);
  if (!torch::isfinite(data).all().item<bool>()) throw InvalidInput(who + ": data contain NaN or infinite values");

  // Initialisation: every point to its nearest k-means++ centre, then one M-step.
  const auto centres = kmeans_plus_plus(data, options.components, options.seed);
  const auto nearest = squared_distances(data, centres).argmin(1);
  auto resp = torch::one_hot(nearest, options.components).to(torch::kDouble);
  GaussianMixture g;
  {
    const Parameters p = m_step(data, resp, options.ridge);
    g.log_weights_ = p.log_weights;
    g.means_ = p.means;
    if (!g.set_covariances(p.covariances).item<bool>())
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
    const Parameters p = m_step(data, resp, options.ridge);
    GaussianMixture next;
    next.log_weights_ = p.log_weights;
    next.means_ = p.means;
    const auto factored = next.set_covariances(p.covariances);
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
  g.mean_log_likelihood_ = g.log_likelihood(data).mean().item<double>();
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
