#include "medadv/objective.h"

#include <algorithm>
#include <limits>

#include "medadv/attack_term.h"
#include "medadv/error.h"
#include "medadv/metrics.h"

namespace medadv {

const char* base_loss_name(BaseLoss b) {
  switch (b) {
    case BaseLoss::CrossEntropy: return "ce";
    case BaseLoss::CWMargin: return "cw";
    case BaseLoss::DLR: return "dlr";
    case BaseLoss::BCE: return "bce";
    case BaseLoss::SoftIoU: return "iou";
    case BaseLoss::SoftDice: return "dice";
    case BaseLoss::None: return "none";
  }
  return "?";
}

bool is_segmentation_loss(BaseLoss b) {
  return b == BaseLoss::BCE || b == BaseLoss::SoftIoU || b == BaseLoss::SoftDice;
}

bool is_classification_loss(BaseLoss b) {
  return b == BaseLoss::CrossEntropy || b == BaseLoss::CWMargin || b == BaseLoss::DLR;
}

torch::Tensor cross_entropy_per_sample(const torch::Tensor& logits, const torch::Tensor& y) {
  return torch::nn::functional::cross_entropy(
      logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
}

namespace {
// Largest logit among classes other than y, [B].
torch::Tensor max_other(const torch::Tensor& logits, const torch::Tensor& y) {
  const auto own = torch::one_hot(y, logits.size(1)).to(torch::kBool);
  return std::get<0>(logits.masked_fill(own, -std::numeric_limits<float>::infinity()).max(1));
}
torch::Tensor logit_of(const torch::Tensor& logits, const torch::Tensor& y) {
  return logits.gather(1, y.unsqueeze(1)).squeeze(1);
}
}  // namespace

torch::Tensor margin_per_sample(const torch::Tensor& logits, const torch::Tensor& y) {
  return logit_of(logits, y) - max_other(logits, y);
}

torch::Tensor dlr_per_sample(const torch::Tensor& logits, const torch::Tensor& y) {
  if (logits.size(1) < 3) throw InvalidInput("the DLR loss needs at least 3 classes; use the CW margin");
  const auto sorted = std::get<0>(logits.sort(1, /*descending=*/true));
  const auto scale = sorted.select(1, 0) - sorted.select(1, 2) + 1e-12;
  return -margin_per_sample(logits, y) / scale;
}

torch::Tensor dlr_targeted_per_sample(const torch::Tensor& logits, const torch::Tensor& y, const torch::Tensor& t) {
  if (logits.size(1) < 4) throw InvalidInput("the targeted DLR loss needs at least 4 classes; use the CW margin");
  const auto sorted = std::get<0>(logits.sort(1, /*descending=*/true));
  const auto scale = sorted.select(1, 0) - (sorted.select(1, 2) + sorted.select(1, 3)) / 2 + 1e-12;
  return -(logit_of(logits, y) - logit_of(logits, t)) / scale;
}

// ---- Segmentation losses ----------------------------------------------------------

namespace {

void check_segmentation_shapes(const torch::Tensor& logits, const torch::Tensor& masks, const char* loss) {
  const bool ok = logits.defined() && masks.defined() && logits.dim() == 4 && logits.size(1) >= 1 &&
                  masks.dim() == 4 && masks.size(0) == logits.size(0) && masks.size(1) == 1 &&
                  masks.size(2) == logits.size(2) && masks.size(3) == logits.size(3);
  if (!ok)
    throw InvalidInput(std::string("the ") + loss + " loss needs segmentation logits [B,K,H,W] and masks [B,1,H,W] of " +
                       "the same B, H, W; got logits " +
                       (logits.defined() ? c10::str(logits.sizes()) : std::string("(none)")) + " and masks " +
                       (masks.defined() ? c10::str(masks.sizes()) : std::string("(none)")));
}

// The mask as class indices [B,1,H,W] (int64): foreground 1 for K == 1 models' 0/1
// masks, the stored class otherwise.
torch::Tensor class_indices(const torch::Tensor& masks) {
  return masks.is_floating_point() ? masks.round().to(torch::kLong) : masks.to(torch::kLong);
}

// One-hot mask [B,K,H,W] (float, like the logits) by comparison with the class indices,
// so that no range check has to wait for the device; an index outside [0,K) is all zeros.
torch::Tensor one_hot_mask(const torch::Tensor& masks, std::int64_t k, const torch::Tensor& like) {
  const auto classes = torch::arange(k, like.options().dtype(torch::kLong)).view({1, k, 1, 1});
  return class_indices(masks).to(like.device()).eq(classes).to(like.scalar_type());
}

// Probabilities and masks over the channels the overlap losses score, [B,C,H,W].
struct SoftMasks {
  torch::Tensor p, m;
};

SoftMasks soft_masks(const torch::Tensor& logits, const torch::Tensor& masks) {
  const std::int64_t k = logits.size(1);
  if (k == 1) return {torch::sigmoid(logits), foreground(masks).to(logits.device(), logits.scalar_type())};
  return {torch::softmax(logits, 1).narrow(1, 1, k - 1), one_hot_mask(masks, k, logits).narrow(1, 1, k - 1)};
}

struct Overlap {
  torch::Tensor intersection, predicted, truth;  // [B]
};

Overlap soft_overlap(const torch::Tensor& logits, const torch::Tensor& masks) {
  const SoftMasks s = soft_masks(logits, masks);
  return {(s.p * s.m).flatten(1).sum(1), s.p.flatten(1).sum(1), s.m.flatten(1).sum(1)};
}

}  // namespace

torch::Tensor bce_per_sample(const torch::Tensor& logits, const torch::Tensor& masks) {
  check_segmentation_shapes(logits, masks, "BCE");
  const std::int64_t k = logits.size(1);
  if (k == 1) {
    const auto m = foreground(masks).to(logits.device(), logits.scalar_type());
    return torch::nn::functional::binary_cross_entropy_with_logits(
               logits, m, torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
        .flatten(1)
        .mean(1);
  }
  // Multi-class: -log softmax at the true class, averaged over the pixels.
  return -(torch::log_softmax(logits, 1) * one_hot_mask(masks, k, logits)).sum(1).flatten(1).mean(1);
}

torch::Tensor soft_iou_loss_per_sample(const torch::Tensor& logits, const torch::Tensor& masks) {
  check_segmentation_shapes(logits, masks, "soft IoU");
  const Overlap o = soft_overlap(logits, masks);
  return 1 - o.intersection / (o.predicted + o.truth - o.intersection + 1e-6);
}

torch::Tensor soft_dice_loss_per_sample(const torch::Tensor& logits, const torch::Tensor& masks) {
  check_segmentation_shapes(logits, masks, "soft Dice");
  const Overlap o = soft_overlap(logits, masks);
  return 1 - 2 * o.intersection / (o.predicted + o.truth + 1e-6);
}

torch::Tensor foreground(const torch::Tensor& mask) {
  if (mask.scalar_type() == torch::kBool) return mask;
  return mask.is_floating_point() ? mask > 0.5 : mask != 0;
}

namespace {

// The criterion of segmentation_success before the "nothing to reach" exclusion.
torch::Tensor at_target(const torch::Tensor& pred, const torch::Tensor& truth, const torch::Tensor& target) {
  const auto target_area = target.flatten(1).sum(1);
  const auto reached_shape = metrics::dice_per_sample_on_device(pred, target) >= kSegmentationDiceThreshold;
  const auto vanished = pred.flatten(1).sum(1).to(torch::kDouble) <=
                        kEmptyTargetAreaFraction * truth.flatten(1).sum(1).to(torch::kDouble);
  return torch::where(target_area > 0, reached_shape, vanished);
}

void check_mask_shapes(const torch::Tensor& pred, const torch::Tensor& truth, const torch::Tensor& target) {
  const bool ok = pred.defined() && truth.defined() && pred.dim() >= 2 && truth.sizes() == pred.sizes() &&
                  (!target.defined() || target.sizes() == pred.sizes());
  if (!ok)
    throw InvalidInput("segmentation success needs predicted, true (and target) masks of one shape [B,1,H,W]; got " +
                       (pred.defined() ? c10::str(pred.sizes()) : std::string("(none)")) + ", " +
                       (truth.defined() ? c10::str(truth.sizes()) : std::string("(none)")) +
                       (target.defined() ? ", " + c10::str(target.sizes()) : std::string()));
}

}  // namespace

torch::Tensor segmentation_success(const torch::Tensor& pred_mask, const torch::Tensor& true_mask,
                                   const torch::Tensor& target_mask) {
  check_mask_shapes(pred_mask, true_mask, target_mask);
  const auto device = pred_mask.device();
  const auto pred = foreground(pred_mask.detach());
  const auto truth = foreground(true_mask.detach()).to(device);
  if (!target_mask.defined()) return metrics::dice_per_sample_on_device(pred, truth) < kSegmentationDiceThreshold;
  const auto target = foreground(target_mask.detach()).to(device);
  return at_target(pred, truth, target).logical_and(at_target(truth, truth, target).logical_not());
}

double segmentation_attack_success_rate(const torch::Tensor& clean_pred_mask, const torch::Tensor& adversarial_pred_mask,
                                        const torch::Tensor& true_mask, const torch::Tensor& target_mask) {
  check_mask_shapes(adversarial_pred_mask, true_mask, target_mask);
  check_mask_shapes(clean_pred_mask, true_mask, torch::Tensor());
  const auto device = adversarial_pred_mask.device();
  const auto truth = foreground(true_mask.detach()).to(device);
  torch::Tensor eligible;
  if (target_mask.defined())
    eligible = at_target(truth, truth, foreground(target_mask.detach()).to(device)).logical_not();
  else
    eligible = metrics::dice_per_sample_on_device(foreground(clean_pred_mask.detach()).to(device), truth) >=
               kSegmentationDiceThreshold;
  const auto successes = segmentation_success(adversarial_pred_mask, true_mask, target_mask).logical_and(eligible);
  const auto counted = eligible.sum().item<std::int64_t>();
  return counted == 0 ? std::numeric_limits<double>::quiet_NaN()
                      : static_cast<double>(successes.sum().item<std::int64_t>()) / static_cast<double>(counted);
}

// ---- The Objective ------------------------------------------------------------------

Objective::Objective(BaseLoss base, bool targeted, double kappa) : base_(base), targeted_(targeted), kappa_(kappa) {}

void Objective::add_term(std::shared_ptr<AttackTerm> term, double weight, std::string label) {
  terms_.push_back(Term{std::move(term), weight, std::move(label)});
}

Objective Objective::with_base(BaseLoss base, double kappa) const {
  Objective copy = *this;
  copy.base_ = base;
  copy.kappa_ = kappa;
  return copy;
}

std::vector<std::string> Objective::required_taps() const {
  std::vector<std::string> taps;
  for (const auto& t : terms_)
    for (const auto& name : t.term->taps())
      if (std::find(taps.begin(), taps.end(), name) == taps.end()) taps.push_back(name);
  return taps;
}

void Objective::begin_batch(DifferentiableModel& model, const torch::Tensor& clean, const torch::Tensor& labels,
                            const torch::Tensor& targets, RunContext& ctx) const {
  for (const auto& t : terms_) t.term->begin_batch(model, clean, labels, targets, ctx);
}

torch::Tensor Objective::evaluate(const ModelOutput& out, const torch::Tensor& x_adv, const torch::Tensor& labels,
                                  const torch::Tensor& targets) const {
  const auto& z = out.logits;
  if (targeted_ && !targets.defined()) throw Error("a targeted objective was evaluated without targets");
  if (is_classification_loss(base_) && z.dim() != 2)
    throw InvalidInput(std::string("the ") + base_loss_name(base_) + " loss is a classification loss; these logits " +
                       "have shape " + c10::str(z.sizes()) +
                       " (a segmentation model: use the bce, iou or dice loss)");
  if (is_segmentation_loss(base_) && z.dim() < 3)
    throw InvalidInput(std::string("the ") + base_loss_name(base_) + " loss is a segmentation loss; these logits " +
                       "have shape " + c10::str(z.sizes()) + " (a classifier: use the ce, cw or dlr loss)");
  const torch::Tensor& reference = targeted_ ? targets : labels;
  torch::Tensor value;
  switch (base_) {
    case BaseLoss::CrossEntropy:
      value = targeted_ ? -cross_entropy_per_sample(z, targets) : cross_entropy_per_sample(z, labels);
      break;
    case BaseLoss::CWMargin:
      value = targeted_ ? -torch::clamp_min(-margin_per_sample(z, targets), -kappa_)
                        : -torch::clamp_min(margin_per_sample(z, labels), -kappa_);
      break;
    case BaseLoss::DLR:
      value = targeted_ ? dlr_targeted_per_sample(z, labels, targets) : dlr_per_sample(z, labels);
      break;
    case BaseLoss::BCE: value = bce_per_sample(z, reference); break;
    case BaseLoss::SoftIoU: value = soft_iou_loss_per_sample(z, reference); break;
    case BaseLoss::SoftDice: value = soft_dice_loss_per_sample(z, reference); break;
    case BaseLoss::None: value = torch::zeros({z.size(0)}, z.options()); break;
  }
  // Segmentation: maximise the loss against the true mask, minimise it towards the target.
  if (is_segmentation_loss(base_) && targeted_) value = -value;
  for (const auto& t : terms_) value = value + t.weight * t.term->loss(out, x_adv, labels, targets);
  return value;
}

torch::Tensor Objective::success(const torch::Tensor& logits, const torch::Tensor& labels,
                                 const torch::Tensor& targets) const {
  if (logits.dim() > 2)
    return segmentation_success(metrics::label_map_from_logits(logits), labels, targeted_ ? targets : torch::Tensor());
  const auto pred = logits.argmax(1);
  return targeted_ ? pred.eq(targets) : pred.ne(labels);
}

}  // namespace medadv
