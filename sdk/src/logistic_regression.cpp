// Binary logistic regression by damped Newton steps (definitions in
// medadv/logistic_regression.h).
#include "medadv/logistic_regression.h"

#include <string>
#include <vector>

#include "medadv/error.h"

namespace medadv {

namespace {

// Every this many iterations the gradient is copied to the host to test convergence;
// between checks nothing waits for the device.
constexpr std::int64_t kCheckEvery = 5;
// Keeps the Newton system solvable when l2 = 0 and the Hessian is near singular.
constexpr double kHessianJitter = 1e-9;
// Step sizes tried at once along each Newton direction (the last, 0, keeps the current
// point, so the objective never increases).
std::vector<double> line_search_steps() {
  std::vector<double> steps;
  for (double a = 1.0; a > 1e-9; a *= 0.5) steps.push_back(a);
  steps.push_back(0.0);
  return steps;
}

std::string shape_text(const torch::Tensor& t) { return t.defined() ? c10::str(t.sizes()) : "(undefined)"; }

}  // namespace

LogisticRegression LogisticRegression::fit(const torch::Tensor& features, const torch::Tensor& positive,
                                           const LogisticRegressionOptions& options) {
  const std::string who = "LogisticRegression::fit";
  if (!features.defined() || features.dim() != 2 || !features.is_floating_point())
    throw InvalidInput(who + ": features must be a floating [N, D] tensor, got " + shape_text(features));
  if (!positive.defined() || positive.dim() != 1 || positive.size(0) != features.size(0))
    throw InvalidInput(who + ": labels must be [N] with N = " + std::to_string(features.size(0)) + ", got " +
                       shape_text(positive));
  if (features.size(1) < 1) throw InvalidInput(who + ": features have no columns");
  if (!(options.l2 >= 0.0)) throw InvalidInput(who + ": l2 must be >= 0");
  if (options.max_iterations < 1) throw InvalidInput(who + ": max_iterations must be >= 1");
  if (!(options.tolerance > 0.0)) throw InvalidInput(who + ": tolerance must be > 0");

  const auto f = features.detach().to(torch::kDouble);
  if (!torch::isfinite(f).all().item<bool>()) throw InvalidInput(who + ": features contain NaN or infinite values");
  const auto y = positive.detach().to(f.device()).ne(0).to(torch::kDouble);
  const double positives = y.sum().item<double>();
  if (positives < 1.0 || positives > static_cast<double>(y.size(0)) - 1.0)
    throw InvalidInput(who + ": needs both classes, got " + std::to_string(static_cast<std::int64_t>(positives)) +
                       " positive of " + std::to_string(y.size(0)));

  LogisticRegression model;
  const auto opts = f.options();
  const std::int64_t d = f.size(1);
  model.mean_ = f.mean(0);
  const auto std = f.std(0, /*unbiased=*/false);
  // A constant column carries no information: scale 1 keeps it at zero after centring.
  model.scale_ = torch::where(std > 1e-12 * (1.0 + model.mean_.abs()), std, torch::ones_like(std));
  const auto design = torch::cat({(f - model.mean_) / model.scale_, torch::ones({f.size(0), 1}, opts)}, 1);
  const auto sign = 2.0 * y - 1.0;
  auto penalty = torch::full({d + 1}, options.l2, opts);
  penalty.index_put_({d}, 0.0);
  const auto steps = torch::tensor(line_search_steps(), opts);
  const auto identity = torch::eye(d + 1, opts);

  // Objective for several parameter vectors at once: thetas [A, D+1] -> [A].
  auto objective = [&](const torch::Tensor& thetas) {
    const auto logits = torch::matmul(design, thetas.t());  // [N, A]
    return torch::softplus(-sign.unsqueeze(1) * logits).sum(0) + 0.5 * (penalty * thetas * thetas).sum(1);
  };

  auto theta = torch::zeros({d + 1}, opts);
  std::int64_t it = 0;
  for (; it < options.max_iterations; ++it) {
    const auto p = torch::sigmoid(torch::matmul(design, theta));
    const auto grad = torch::matmul(design.t(), p - y) + penalty * theta;
    if (it % kCheckEvery == 0 && grad.abs().max().item<double>() < options.tolerance) break;
    const auto hessian = torch::matmul(design.t() * (p * (1.0 - p)).unsqueeze(0), design) + torch::diag(penalty) +
                         kHessianJitter * identity;
    // Cholesky without its error check (which would wait for the device): the Hessian is
    // positive definite by construction.
    const auto factor = std::get<0>(torch::linalg_cholesky_ex(hessian, /*upper=*/false, /*check_errors=*/false));
    const auto newton = torch::cholesky_solve(grad.unsqueeze(1), factor, /*upper=*/false).squeeze(1);
    const auto candidates = theta.unsqueeze(0) - steps.unsqueeze(1) * newton.unsqueeze(0);
    theta = candidates.index_select(0, objective(candidates).argmin().reshape({1})).squeeze(0);
  }
  model.weights_ = theta.slice(0, 0, d).clone();
  model.bias_ = theta.select(0, d).clone();
  model.iterations_ = it;
  return model;
}

torch::Tensor LogisticRegression::predict_logit(const torch::Tensor& features) const {
  if (!fitted()) throw Error("LogisticRegression::predict_logit: not fitted");
  if (!features.defined() || features.dim() != 2 || features.size(1) != dim())
    throw InvalidInput("LogisticRegression::predict_logit: features must be [N, " + std::to_string(dim()) +
                       "], got " + shape_text(features));
  const auto device = features.device();
  const auto z = (features.to(torch::kDouble) - mean_.to(device)) / scale_.to(device);
  const auto logit = torch::matmul(z, weights_.to(device)) + bias_.to(device);
  return features.is_floating_point() ? logit.to(features.scalar_type()) : logit;
}

torch::Tensor LogisticRegression::predict_probability(const torch::Tensor& features) const {
  return torch::sigmoid(predict_logit(features));
}

}  // namespace medadv
