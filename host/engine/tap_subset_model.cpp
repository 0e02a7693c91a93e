#include "engine/tap_subset_model.h"

#include <algorithm>

#include "medadv/error.h"

namespace medadv::host {

TapSubsetModel::TapSubsetModel(std::shared_ptr<DifferentiableModel> model, std::vector<std::string> taps,
                               std::string who)
    : model_(std::move(model)), taps_(std::move(taps)), who_(std::move(who)) {}

ModelOutput TapSubsetModel::forward(const torch::Tensor& x, const std::vector<std::string>& taps) {
  for (const auto& tap : taps)
    if (std::find(taps_.begin(), taps_.end(), tap) == taps_.end()) {
      std::string allowed;
      for (const auto& t : taps_) allowed += (allowed.empty() ? "" : ", ") + t;
      throw InvalidInput(who_ + " asked for tap '" + tap + "', which its `layers` do not list (" + allowed + ")");
    }
  return model_->forward(x, taps);
}

}  // namespace medadv::host
