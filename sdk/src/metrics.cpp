#include "medadv/metrics.h"

namespace medadv::metrics {

namespace {
torch::Tensor flat_delta(const torch::Tensor& clean, const torch::Tensor& adversarial) {
  return (adversarial.detach() - clean.detach()).flatten(1).to(torch::kFloat);
}
}  // namespace

torch::Tensor linf_norm(const torch::Tensor& clean, const torch::Tensor& adversarial) {
  return std::get<0>(flat_delta(clean, adversarial).abs().max(1));
}

torch::Tensor l2_norm(const torch::Tensor& clean, const torch::Tensor& adversarial) {
  return flat_delta(clean, adversarial).pow(2).sum(1).sqrt();
}

torch::Tensor l0_norm(const torch::Tensor& clean, const torch::Tensor& adversarial, double tol) {
  return (flat_delta(clean, adversarial).abs() > tol).sum(1).to(torch::kFloat);
}

}  // namespace medadv::metrics
