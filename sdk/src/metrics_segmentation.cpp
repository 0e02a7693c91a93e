// Dice, IoU and mIoU (definitions in metrics.h).
#include "medadv/metrics.h"

#include "metrics_checks.h"

namespace medadv::metrics {

using detail::kNaN;

namespace {

struct Overlap {
  torch::Tensor intersection, predicted, truth;  // [N] float64 on the masks' device
};

Overlap overlap(const torch::Tensor& pred_mask, const torch::Tensor& true_mask, const char* metric) {
  detail::require_same_shape(pred_mask, true_mask, metric, "pred_mask", "true_mask");
  if (pred_mask.dim() < 1)
    throw InvalidInput(std::string("metrics::") + metric + ": masks need a leading sample dimension [N, ...]");
  const auto p = detail::as_binary(pred_mask, metric, "pred_mask").flatten(1);
  const auto t = detail::as_binary(true_mask, metric, "true_mask").to(p.device()).flatten(1);
  return Overlap{(p & t).sum(1).to(torch::kDouble), p.sum(1).to(torch::kDouble), t.sum(1).to(torch::kDouble)};
}

// numerator / denominator per sample, 1 where the denominator is 0 (both masks empty);
// on the masks' device.
torch::Tensor ratio_or_one_on_device(const torch::Tensor& numerator, const torch::Tensor& denominator) {
  const auto empty = denominator == 0;
  return torch::where(empty, torch::ones_like(numerator), numerator / denominator.masked_fill(empty, 1.0));
}
torch::Tensor ratio_or_one(const torch::Tensor& numerator, const torch::Tensor& denominator) {
  return ratio_or_one_on_device(numerator, denominator).cpu();
}

double mean_or_nan(const torch::Tensor& values) { return values.numel() ? values.mean().item<double>() : kNaN; }

}  // namespace

torch::Tensor dice_per_sample(const torch::Tensor& pred_mask, const torch::Tensor& true_mask) {
  const Overlap o = overlap(pred_mask, true_mask, "dice");
  return ratio_or_one(2 * o.intersection, o.predicted + o.truth);
}

torch::Tensor dice_per_sample_on_device(const torch::Tensor& pred_mask, const torch::Tensor& true_mask) {
  const Overlap o = overlap(pred_mask, true_mask, "dice");
  return ratio_or_one_on_device(2 * o.intersection, o.predicted + o.truth);
}

torch::Tensor iou_per_sample(const torch::Tensor& pred_mask, const torch::Tensor& true_mask) {
  const Overlap o = overlap(pred_mask, true_mask, "iou");
  return ratio_or_one(o.intersection, o.predicted + o.truth - o.intersection);
}

double dice(const torch::Tensor& pred_mask, const torch::Tensor& true_mask) {
  return mean_or_nan(dice_per_sample(pred_mask, true_mask));
}

double iou(const torch::Tensor& pred_mask, const torch::Tensor& true_mask) {
  return mean_or_nan(iou_per_sample(pred_mask, true_mask));
}

torch::Tensor label_map_from_logits(const torch::Tensor& logits) {
  detail::require_defined(logits, "label_map_from_logits", "logits");
  if (logits.dim() < 2 || logits.size(1) < 1 || !logits.is_floating_point())
    throw InvalidInput("metrics::label_map_from_logits: expected floating logits [N,K,...] with K >= 1, got shape " +
                       detail::shape_text(logits));
  const auto z = logits.detach();
  if (z.size(1) == 1) return (z > 0).to(torch::kLong);
  return z.argmax(1, /*keepdim=*/true);
}

double mean_iou(const torch::Tensor& pred_labels, const torch::Tensor& true_labels, std::int64_t num_classes) {
  const char* metric = "mean_iou";
  detail::require_same_shape(pred_labels, true_labels, metric, "pred_labels", "true_labels");
  if (num_classes < 1) throw InvalidInput("metrics::mean_iou: num_classes must be >= 1, got " + std::to_string(num_classes));
  if (pred_labels.is_floating_point() || true_labels.is_floating_point())
    throw InvalidInput("metrics::mean_iou: label maps must be integer tensors (see label_map_from_logits)");
  if (pred_labels.numel() == 0) return kNaN;
  const auto p = pred_labels.detach().flatten().to(torch::kLong);
  const auto t = true_labels.detach().flatten().to(p.device(), torch::kLong);
  const auto range = torch::stack({torch::minimum(p.min(), t.min()), torch::maximum(p.max(), t.max())}).cpu();
  if (range[0].item<std::int64_t>() < 0 || range[1].item<std::int64_t>() >= num_classes)
    throw InvalidInput("metrics::mean_iou: labels must lie in [0, " + std::to_string(num_classes) + "), found " +
                       std::to_string(range[0].item<std::int64_t>()) + ".." + std::to_string(range[1].item<std::int64_t>()));
  // Confusion matrix [truth, prediction] in one pass.
  const auto confusion =
      torch::bincount(t * num_classes + p, {}, num_classes * num_classes).view({num_classes, num_classes}).to(torch::kDouble).cpu();
  const auto intersection = confusion.diagonal();
  const auto union_ = confusion.sum(0) + confusion.sum(1) - intersection;
  const auto present = union_ > 0;
  return (intersection.masked_select(present) / union_.masked_select(present)).mean().item<double>();
}

}  // namespace medadv::metrics
