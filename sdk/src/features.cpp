// Pooled per-tap features (definitions in medadv/features.h).
#include "medadv/features.h"

#include <algorithm>

#include "medadv/error.h"
#include "medadv/params.h"

namespace medadv::features {

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}

}  // namespace

torch::Tensor pool(const torch::Tensor& tap) {
  if (!tap.defined()) throw InvalidInput("features::pool: the tap is undefined");
  if (tap.dim() == 0) throw InvalidInput("features::pool: a tap needs a batch dimension, got a scalar");
  if (tap.dim() == 1) return tap.unsqueeze(1);
  if (tap.dim() == 2) return tap;
  std::vector<std::int64_t> space;
  for (std::int64_t d = 2; d < tap.dim(); ++d) space.push_back(d);
  return tap.mean(space);
}

PooledOutput pooled_forward(DifferentiableModel& model, const torch::Tensor& x, const std::vector<std::string>& taps) {
  const ModelOutput out = model.forward(x, taps);
  PooledOutput pooled;
  pooled.logits = out.logits;
  pooled.features.reserve(taps.size());
  for (const auto& name : taps) pooled.features.push_back(pool(out.tap(name)));
  return pooled;
}

PooledOutput pooled_features(DifferentiableModel& model, const torch::Tensor& images,
                             const std::vector<std::string>& taps, std::int64_t batch_size, c10::Device device) {
  if (!images.defined() || images.dim() < 2)
    throw InvalidInput("features::pooled_features: images must be a batch [N, C, H, W]");
  if (images.size(0) == 0) throw InvalidInput("features::pooled_features: no images");
  return pooled_features(model, *tensor_batches(images), taps, batch_size, device);
}

PooledOutput pooled_features(DifferentiableModel& model, const ImageBatches& images,
                             const std::vector<std::string>& taps, std::int64_t batch_size, c10::Device device) {
  if (images.size() == 0) throw InvalidInput("features::pooled_features: no images");
  if (batch_size < 1) throw InvalidInput("features::pooled_features: batch_size must be >= 1");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> logits;
  std::vector<std::vector<torch::Tensor>> per_tap(taps.size());
  const std::int64_t n = images.size();
  for (std::int64_t start = 0; start < n; start += batch_size) {
    PooledOutput out = pooled_forward(model, images.images(start, std::min(start + batch_size, n), device), taps);
    logits.push_back(out.logits.detach());
    for (std::size_t t = 0; t < taps.size(); ++t) per_tap[t].push_back(out.features[t].detach());
  }
  PooledOutput all;
  all.logits = torch::cat(logits);
  for (auto& parts : per_tap) all.features.push_back(torch::cat(parts));
  return all;
}

std::vector<std::string> select_taps(const std::string& who, const std::vector<std::string>& requested,
                                     const std::vector<std::string>& available) {
  std::vector<std::string> chosen;
  if (requested.size() == 1 && requested.front() == kAllTaps) {
    for (const auto& t : available)
      if (t != "logits") chosen.push_back(t);
    if (chosen.empty())
      throw InvalidInput(who + ": taps = [\"all\"] but the model offers no tap besides logits (available: " +
                         join(available) + ")");
    return chosen;
  }
  if (requested.empty()) throw InvalidInput(who + ": no taps requested (name taps, or \"all\")");
  for (const auto& t : requested) {
    if (t == kAllTaps)
      throw InvalidInput(who + ": \"all\" must be the only entry of taps, got " + join(requested));
    if (std::find(available.begin(), available.end(), t) == available.end())
      throw InvalidInput(who + " needs tap '" + t + "', which the model does not offer" + did_you_mean(t, available) +
                         "; available taps: " + join(available));
    if (std::find(chosen.begin(), chosen.end(), t) == chosen.end()) chosen.push_back(t);
  }
  return chosen;
}

}  // namespace medadv::features
