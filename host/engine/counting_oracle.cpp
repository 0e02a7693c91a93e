#include "engine/counting_oracle.h"

namespace medadv::host {

CountingOracle::CountingOracle(std::shared_ptr<DifferentiableModel> model, std::int64_t budget_per_sample,
                               bool labels_only)
    : model_(std::move(model)), budget_(budget_per_sample), labels_only_(labels_only) {}

void CountingOracle::reset(std::int64_t batch_size) {
  queries_ = torch::zeros({batch_size}, torch::kLong);
  max_used_ = 0;
}

torch::Tensor CountingOracle::query(const torch::Tensor& x) {
  // A query batch counts one query for each of its rows; attacks that query several
  // candidates per sample pass them as rows whose count is charged to the batch.
  if (!queries_.defined() || queries_.size(0) == 0) reset(x.size(0));
  const std::int64_t per_sample = (x.size(0) + queries_.size(0) - 1) / queries_.size(0);
  // The budget is checked on a host-side counter, so no device sync is needed.
  if (max_used_ + per_sample > budget_)
    throw QueryBudgetExceeded("query budget of " + std::to_string(budget_) + " per sample exhausted");
  max_used_ += per_sample;
  queries_ += per_sample;
  torch::NoGradGuard no_grad;
  return model_->logits(x.detach());
}

torch::Tensor CountingOracle::probabilities(const torch::Tensor& x) {
  if (labels_only_) throw CapabilityError("this oracle answers labels only (decision-based threat model)");
  return torch::softmax(query(x), 1);
}

torch::Tensor CountingOracle::labels(const torch::Tensor& x) { return query(x).argmax(1); }

}  // namespace medadv::host
