#pragma once
// What every detector of the feature family shares: the schema entries for taps, batch
// size and the logistic-regression penalty, the classification check, the predicted
// class, and pooled fit features (medadv/features.h).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <medadv/capabilities.h>
#include <medadv/detector.h>
#include <medadv/error.h>
#include <medadv/features.h>
#include <medadv/params.h>

namespace medadv::plugins::feature {

// `taps`: the taps a detector reads; `defaults` is its default list (["all"] = every tap
// but logits). `what` says what the detector does with them.
inline void add_taps_option(ParamSchema& s, const std::vector<std::string>& defaults, const std::string& what) {
  Value::Array def;
  for (const auto& t : defaults) def.emplace_back(t);
  s.add_list("taps", ParamSpec("", ParamType::String, ""), def,
             "Taps to read (names from the model's tap list, e.g. block1, penultimate), or [\"all\"] for every "
             "tap except logits. 4-d taps are average-pooled over space. " +
                 what)
      .min_length(1);
}

inline void add_batch_size_option(ParamSchema& s) {
  s.add_int("batch_size", 128, "Images per forward pass while the detector extracts its fit features").min(1).max(65536);
}

inline void add_l2_option(ParamSchema& s) {
  s.add_float("l2", 1.0,
              "L2 penalty of the logistic regression on z-scored scores: the summed log-loss plus "
              "l2/2 * ||w||^2 (sklearn's C = 1/l2)")
      .min_exclusive(0.0)
      .max(1e6);
}

inline void require_classifier(const std::string& who, const DifferentiableModel& model) {
  if (model.task() != Task::Classification)
    throw InvalidInput(who + " detects adversarial inputs of classifiers; the model is a " +
                       std::string(task_name(model.task())) + " model");
}

// The predicted class per row of logits [B, K] (no gradient: the class is a choice).
inline torch::Tensor predicted_class(const torch::Tensor& logits) { return logits.detach().argmax(1); }

// Checks what fit() is handed: N >= 2 clean images with one label each; adversarial
// images, when `needs_adversarial`, at least one.
inline void check_fit_data(const std::string& who, const DetectorFitData& data, bool needs_adversarial) {
  if (!data.clean || data.clean->size() < 2) throw InvalidInput(who + ": fit needs at least 2 clean images");
  const torch::Tensor labels = data.labels();
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != data.size())
    throw InvalidInput(who + ": fit needs one label per clean image");
  if (needs_adversarial && (!data.adversarial || data.adversarial->size() < 1))
    throw InvalidInput(who + " is supervised: fit needs adversarial images");
}

// fn(batch) for consecutive batches of `images` read on `device`, without gradients (fn
// may enable them inside), results detached and concatenated.
template <class Fn>
torch::Tensor in_batches(const ImageBatches& images, std::int64_t batch_size, c10::Device device, Fn&& fn) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (std::int64_t start = 0; start < images.size(); start += batch_size)
    parts.push_back(fn(images.images(start, std::min(start + batch_size, images.size()), device)).detach());
  return torch::cat(parts);
}

}  // namespace medadv::plugins::feature
