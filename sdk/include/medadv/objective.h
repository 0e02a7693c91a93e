#pragma once
// What an attack optimises (ARCHITECTURE.md section 5): a per-sample objective to be
// maximised, the weighted sum of a base loss and any add-on terms. Targeted and
// untargeted are properties of the objective, not of each attack.
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/context.h"
#include "medadv/export.h"
#include "medadv/model.h"

namespace medadv {

class AttackTerm;
class DifferentiableModel;

// Classification losses (labels and targets are class indices [B]): cross-entropy, CW
// margin, DLR. Segmentation losses (labels and targets are masks [B,1,H,W]): BCE, soft
// IoU, soft Dice. None: no base loss, the objective is its add-on terms alone (the
// feature stress test).
enum class BaseLoss { CrossEntropy, CWMargin, DLR, BCE, SoftIoU, SoftDice, None };
// "ce", "cw", "dlr", "bce", "iou", "dice", "none": the experiment's `loss` values.
MEDADV_API const char* base_loss_name(BaseLoss b);
// True for BCE, SoftIoU and SoftDice: their labels and targets are masks.
MEDADV_API bool is_segmentation_loss(BaseLoss b);
// True for CrossEntropy, CWMargin and DLR.
MEDADV_API bool is_classification_loss(BaseLoss b);

class MEDADV_API Objective {
 public:
  Objective(BaseLoss base, bool targeted, double kappa = 0.0);

  void add_term(std::shared_ptr<AttackTerm> term, double weight, std::string label);

  // The same objective (targeted or not, the same add-on terms) on another base loss:
  // for attacks defined by their loss, such as CW (margin) or APGD-DLR.
  Objective with_base(BaseLoss base, double kappa) const;

  BaseLoss base() const { return base_; }
  bool targeted() const { return targeted_; }
  double kappa() const { return kappa_; }
  // Taps the add-on terms need in every forward.
  std::vector<std::string> required_taps() const;

  // Tells every add-on term that the attack is about to run on a new batch
  // (AttackTerm::begin_batch). The host calls it before each Attack::run; a program that
  // runs an attack itself calls it too when its terms keep per-batch state.
  void begin_batch(DifferentiableModel& model, const torch::Tensor& clean, const torch::Tensor& labels,
                   const torch::Tensor& targets, RunContext& ctx) const;

  // Per-sample value to maximise, [B]: the base loss plus the weighted terms. `targets`
  // is used when targeted.
  // Untargeted cross-entropy: CE(z, y); targeted: -CE(z, t).
  // CW margin: untargeted -max(z_y - max_{j!=y} z_j, -kappa); targeted
  // -max(max_{j!=t} z_j - z_t, -kappa).
  // DLR (Croce & Hein): -(z_y - max_{i!=y} z_i) / (z_pi1 - z_pi3 + 1e-12); targeted
  // -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2 + 1e-12).
  // Segmentation (BCE, soft IoU, soft Dice; see the free functions below): untargeted
  // L(z, mask), maximised against the true mask; targeted -L(z, target mask).
  // None: 0, so only the terms count.
  // A classification loss on segmentation logits, or the reverse, throws InvalidInput.
  torch::Tensor evaluate(const ModelOutput& out, const torch::Tensor& x_adv,
                         const torch::Tensor& labels, const torch::Tensor& targets) const;

  // Per-sample success [B] (bool), decided by the logits' shape, on their device:
  // classification logits [B,K]: targeted reached the target; untargeted changed the
  // prediction away from the label. Segmentation logits [B,K,H,W]: segmentation_success
  // of the predicted mask (metrics::label_map_from_logits, foreground = nonzero).
  torch::Tensor success(const torch::Tensor& logits, const torch::Tensor& labels,
                        const torch::Tensor& targets) const;

 private:
  struct Term {
    std::shared_ptr<AttackTerm> term;
    double weight;
    std::string label;
  };
  BaseLoss base_;
  bool targeted_;
  double kappa_;
  std::vector<Term> terms_;
};

// The base losses as free functions, per sample [B], for attacks and tests.
MEDADV_API torch::Tensor cross_entropy_per_sample(const torch::Tensor& logits, const torch::Tensor& y);
// z_y - max_{j != y} z_j
MEDADV_API torch::Tensor margin_per_sample(const torch::Tensor& logits, const torch::Tensor& y);
MEDADV_API torch::Tensor dlr_per_sample(const torch::Tensor& logits, const torch::Tensor& y);
MEDADV_API torch::Tensor dlr_targeted_per_sample(const torch::Tensor& logits, const torch::Tensor& y,
                                                 const torch::Tensor& t);

// ---- Segmentation (ATTACKS.md, "Segmentation losses") ---------------------------------
// logits [B,K,H,W]; masks [B,1,H,W] (float 0/1, or class indices for K >= 3).
// Per pixel, K == 1: p = sigmoid(logit) and m = (mask > 0.5); K >= 2: p = softmax over the
// channels and m the one-hot mask, the soft IoU and Dice sums running over the foreground
// channels 1..K-1 (so K == 2 scores the same foreground as K == 1; the background channel
// would otherwise dominate small structures). Sums run over all of a sample's pixels.
// Each returns a per-sample loss [B] (lower = better segmentation) with a gradient.
// Towards an empty target mask the soft IoU and Dice losses are constant (1: there is no
// overlap to grow) and give no gradient; BCE is the loss for an empty target.

// Mean binary cross-entropy over the pixels (K >= 2: mean multi-class cross-entropy).
MEDADV_API torch::Tensor bce_per_sample(const torch::Tensor& logits, const torch::Tensor& masks);
// 1 - sum(p*m) / (sum(p) + sum(m) - sum(p*m) + 1e-6)
MEDADV_API torch::Tensor soft_iou_loss_per_sample(const torch::Tensor& logits, const torch::Tensor& masks);
// 1 - 2 sum(p*m) / (sum(p) + sum(m) + 1e-6)
MEDADV_API torch::Tensor soft_dice_loss_per_sample(const torch::Tensor& logits, const torch::Tensor& masks);

// Foreground of a mask or label map as bool, same shape: floating masks > 0.5, integer
// and bool ones nonzero.
MEDADV_API torch::Tensor foreground(const torch::Tensor& mask);

// When a segmentation attack has succeeded on a sample (docs/decisions.md, "Segmentation
// attacks"); masks of any kind foreground() reads, [B,1,H,W]:
// - untargeted (target_mask undefined): Dice(pred, truth) < 0.5, the usual line between a
//   usable and a failed segmentation;
// - targeted, a target with foreground: Dice(pred, target) >= 0.5;
// - targeted, an empty target: the predicted foreground is at most 10% of the true
//   mask's (a Dice against an empty target would demand an exactly empty prediction, so
//   one stray pixel would fail it);
// - targeted, like a classification sample whose label is its target: a sample whose
//   true mask already meets the target's criterion (an empty truth for the empty target)
//   has nothing to reach and never counts as a success.
// [B] bool on pred_mask's device, without host synchronisation.
inline constexpr double kSegmentationDiceThreshold = 0.5;
inline constexpr double kEmptyTargetAreaFraction = 0.1;
MEDADV_API torch::Tensor segmentation_success(const torch::Tensor& pred_mask, const torch::Tensor& true_mask,
                                              const torch::Tensor& target_mask);

// Attack success rate of a segmentation attack, the analogue of the classification rates
// (medadv/metrics.h): the share of successes (segmentation_success of the adversarial
// prediction) among the samples there was something to attack: untargeted, those whose
// clean prediction was not already a failure (Dice >= 0.5); targeted, those whose true
// mask is not already at the target. NaN when there are none.
MEDADV_API double segmentation_attack_success_rate(const torch::Tensor& clean_pred_mask,
                                                   const torch::Tensor& adversarial_pred_mask,
                                                   const torch::Tensor& true_mask, const torch::Tensor& target_mask);

}  // namespace medadv
