#include "engine/defended_model.h"

#include <algorithm>
#include <map>

#include "loader/guard.h"

namespace medadv::host {

PreprocessedModel::PreprocessedModel(std::shared_ptr<DifferentiableModel> model,
                                     std::shared_ptr<Preprocessor> preprocessor, std::string who)
    : model_(std::move(model)), preprocessor_(std::move(preprocessor)), who_(std::move(who)) {}

ModelOutput PreprocessedModel::forward(const torch::Tensor& x, const std::vector<std::string>& taps) {
  torch::Tensor defended = guarded(who_, "transform", [&] { return bpda(*preprocessor_, x); });
  return model_->forward(defended, taps);
}

bool PreprocessedModel::randomized() const {
  return model_->randomized() || dynamic_cast<const RandomizedPreprocessor*>(preprocessor_.get()) != nullptr;
}

ExpectationModel::ExpectationModel(std::shared_ptr<DifferentiableModel> model, std::int64_t draws)
    : model_(std::move(model)), draws_(std::max<std::int64_t>(1, draws)) {}

ModelOutput ExpectationModel::forward(const torch::Tensor& x, const std::vector<std::string>& taps) {
  std::vector<torch::Tensor> logits;
  std::map<std::string, torch::Tensor> taps_sum;
  for (std::int64_t draw = 0; draw < draws_; ++draw) {
    ModelOutput out = model_->forward(x, taps);
    logits.push_back(out.logits);
    for (auto& [name, value] : out.taps) {
      auto& sum = taps_sum[name];
      sum = sum.defined() ? sum + value : value;
    }
  }
  ModelOutput mean;
  mean.logits = expected_logits(logits);
  for (auto& [name, sum] : taps_sum) mean.taps[name] = sum / static_cast<double>(draws_);
  return mean;
}

}  // namespace medadv::host
