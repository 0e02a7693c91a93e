#pragma once
// Black-box access to a model: outputs without gradients, every query counted per
// sample against a budget (ARCHITECTURE.md section 4).
#include <memory>

#include "medadv/capabilities.h"

namespace medadv::host {

class CountingOracle : public Oracle {
 public:
  CountingOracle(std::shared_ptr<DifferentiableModel> model, std::int64_t budget_per_sample, bool labels_only);

  // Starts counting for a batch of `batch_size` samples.
  void reset(std::int64_t batch_size);

  torch::Tensor probabilities(const torch::Tensor& x, const torch::Tensor& owners = {}) override;
  torch::Tensor labels(const torch::Tensor& x, const torch::Tensor& owners = {}) override;
  bool labels_only() const override { return labels_only_; }
  torch::Tensor queries() const override { return queries_; }
  std::int64_t budget_per_sample() const override { return budget_; }
  std::int64_t num_classes() const override { return model_->num_classes(); }

 private:
  torch::Tensor query(const torch::Tensor& x, const torch::Tensor& owners);
  std::shared_ptr<DifferentiableModel> model_;
  std::int64_t budget_;
  bool labels_only_;
  torch::Tensor queries_;  // per sample, int64 on the CPU
};

}  // namespace medadv::host
