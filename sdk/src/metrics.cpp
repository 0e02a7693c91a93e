// Perturbation norms, classification rates and throughput (definitions in metrics.h).
#include "medadv/metrics.h"

#include <array>

#include "metrics_checks.h"

namespace medadv::metrics {

using detail::kNaN;

namespace {
torch::Tensor flat_delta(const torch::Tensor& clean, const torch::Tensor& adversarial) {
  return (adversarial.detach() - clean.detach()).flatten(1).to(torch::kFloat);
}

void require_aligned(const torch::Tensor& a, const torch::Tensor& b, const char* metric, const char* name_a,
                     const char* name_b) {
  detail::require_class_vector(a, metric, name_a);
  detail::require_class_vector(b, metric, name_b);
  detail::require_same_shape(a, b, metric, name_a, name_b);
}

// The inputs of a per-sample success metric: `a` and `b` checked to hold one class per
// label, then all three detached on a's device (where the comparison runs).
std::array<torch::Tensor, 3> aligned_with_labels(const char* metric, const torch::Tensor& a, const char* name_a,
                                                 const torch::Tensor& b, const char* name_b,
                                                 const torch::Tensor& labels) {
  require_aligned(a, labels, metric, name_a, "labels");
  require_aligned(b, labels, metric, name_b, "labels");
  return {a.detach(), b.detach().to(a.device()), labels.detach().to(a.device())};
}

// numerator / denominator as counts, NaN on an empty denominator.
double rate(const torch::Tensor& numerator_mask, const torch::Tensor& denominator_mask) {
  const auto counts = torch::stack({numerator_mask.sum(), denominator_mask.sum()}).cpu();
  const auto denominator = counts[1].item<std::int64_t>();
  return denominator == 0 ? kNaN : static_cast<double>(counts[0].item<std::int64_t>()) / denominator;
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

double accuracy(const torch::Tensor& predictions, const torch::Tensor& labels) {
  require_aligned(predictions, labels, "accuracy", "predictions", "labels");
  return rate(predictions.detach() == labels.detach().to(predictions.device()),
              torch::ones_like(predictions, torch::kBool));
}

double robust_accuracy(const torch::Tensor& adversarial_predictions, const torch::Tensor& labels) {
  require_aligned(adversarial_predictions, labels, "robust_accuracy", "adversarial_predictions", "labels");
  return accuracy(adversarial_predictions, labels);
}

std::vector<double> per_class_accuracy(const torch::Tensor& predictions, const torch::Tensor& labels,
                                       std::int64_t num_classes) {
  require_aligned(predictions, labels, "per_class_accuracy", "predictions", "labels");
  if (num_classes < 1)
    throw InvalidInput("metrics::per_class_accuracy: num_classes is " + std::to_string(num_classes) + ", expected >= 1");
  const auto y = labels.detach().to(torch::kLong).cpu();
  const auto correct = (predictions.detach().to(torch::kLong).cpu() == y).to(torch::kLong);
  if (y.numel() > 0 && (y.min().item<std::int64_t>() < 0 || y.max().item<std::int64_t>() >= num_classes))
    throw InvalidInput("metrics::per_class_accuracy: a label lies outside [0, " + std::to_string(num_classes) + ")");
  // One pass over the samples: per-class totals and hits by bincount.
  const auto totals = torch::bincount(y, {}, num_classes);
  const auto hits = torch::bincount(y, correct, num_classes).to(torch::kLong);
  std::vector<double> out(static_cast<std::size_t>(num_classes), kNaN);
  for (std::int64_t k = 0; k < num_classes; ++k) {
    const auto n = totals[k].item<std::int64_t>();
    if (n > 0) out[static_cast<std::size_t>(k)] = static_cast<double>(hits[k].item<std::int64_t>()) / n;
  }
  return out;
}

torch::Tensor per_sample_success_untargeted(const torch::Tensor& clean_predictions,
                                            const torch::Tensor& adversarial_predictions,
                                            const torch::Tensor& labels) {
  const auto [clean, adversarial, y] = aligned_with_labels("per_sample_success_untargeted", clean_predictions,
                                                          "clean_predictions", adversarial_predictions,
                                                          "adversarial_predictions", labels);
  return ((clean == y) & (adversarial != y)).cpu();
}

double attack_success_rate_untargeted(const torch::Tensor& clean_predictions,
                                      const torch::Tensor& adversarial_predictions, const torch::Tensor& labels) {
  const auto success = per_sample_success_untargeted(clean_predictions, adversarial_predictions, labels);
  return rate(success, clean_predictions.detach().cpu() == labels.detach().cpu());
}

torch::Tensor per_sample_success_targeted(const torch::Tensor& adversarial_predictions, const torch::Tensor& labels,
                                          const torch::Tensor& targets) {
  const auto [adversarial, t, y] = aligned_with_labels("per_sample_success_targeted", adversarial_predictions,
                                                      "adversarial_predictions", targets, "targets", labels);
  return ((adversarial == t) & (y != t)).cpu();
}

double attack_success_rate_targeted(const torch::Tensor& adversarial_predictions, const torch::Tensor& labels,
                                    const torch::Tensor& targets) {
  const auto success = per_sample_success_targeted(adversarial_predictions, labels, targets);
  return rate(success, labels.detach().cpu() != targets.detach().cpu());
}

torch::Tensor predicted_class_probability(const torch::Tensor& logits) {
  detail::require_defined(logits, "predicted_class_probability", "logits");
  if (logits.dim() != 2 || logits.size(1) < 1)
    throw InvalidInput("metrics::predicted_class_probability: 'logits' must be [B, K] with K >= 1, got shape " +
                       detail::shape_text(logits));
  return std::get<0>(torch::softmax(logits.detach().to(torch::kDouble), 1).max(1)).cpu();
}

double adversarial_confidence(const torch::Tensor& adversarial_probability, const torch::Tensor& success) {
  const char* metric = "adversarial_confidence";
  detail::require_same_shape(adversarial_probability, success, metric, "adversarial_probability", "success");
  if (adversarial_probability.dim() != 1)
    throw InvalidInput("metrics::adversarial_confidence: expected [N] tensors, got shape " +
                       detail::shape_text(adversarial_probability));
  const torch::Tensor mask = detail::as_binary(success, metric, "success").cpu();
  const torch::Tensor chosen = adversarial_probability.detach().cpu().to(torch::kDouble).masked_select(mask);
  return chosen.numel() ? chosen.mean().item<double>() : kNaN;
}

double images_per_second(std::int64_t images, double seconds) {
  return seconds > 0 ? static_cast<double>(images) / seconds : kNaN;
}

}  // namespace medadv::metrics
