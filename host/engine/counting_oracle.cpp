#include "engine/counting_oracle.h"

namespace medadv::host {

CountingOracle::CountingOracle(std::shared_ptr<DifferentiableModel> model, std::int64_t budget_per_sample,
                               bool labels_only)
    : model_(std::move(model)), budget_(budget_per_sample), labels_only_(labels_only) {}

void CountingOracle::reset(std::int64_t batch_size) {
  queries_ = torch::zeros({batch_size}, torch::kLong);
}

torch::Tensor CountingOracle::query(const torch::Tensor& x, const torch::Tensor& owners) {
  if (!queries_.defined()) reset(x.size(0));
  const std::int64_t batch = queries_.size(0);
  torch::Tensor counts;
  if (owners.defined()) {
    counts = torch::bincount(owners.to(torch::kCPU).to(torch::kLong), {}, batch);
  } else if (x.size(0) == batch) {
    counts = torch::ones({batch}, torch::kLong);
  } else {
    throw CapabilityError("an oracle query of " + std::to_string(x.size(0)) + " rows for a batch of " +
                          std::to_string(batch) + " samples needs `owners` (the batch sample of each row)");
  }
  const auto after = queries_ + counts;
  if (after.max().item<std::int64_t>() > budget_)  // CPU tensors: no device sync
    throw QueryBudgetExceeded("query refused: it would take a sample past its budget of " +
                              std::to_string(budget_) + " queries");
  queries_ = after;
  torch::NoGradGuard no_grad;
  return model_->logits(x.detach());
}

torch::Tensor CountingOracle::probabilities(const torch::Tensor& x, const torch::Tensor& owners) {
  if (labels_only_) throw CapabilityError("this oracle answers labels only (decision-based threat model)");
  return torch::softmax(query(x, owners), 1);
}

torch::Tensor CountingOracle::labels(const torch::Tensor& x, const torch::Tensor& owners) {
  return query(x, owners).argmax(1);
}

}  // namespace medadv::host
