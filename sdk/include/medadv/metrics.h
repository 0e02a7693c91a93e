#pragma once
// Metrics defined once (ARCHITECTURE.md section 8). Every engine result, report and
// plugin test computes its numbers here, so a definition never differs between them.
//
// Conventions for the whole header:
// - Inputs may live on any device; they are detached and compared there. Scalar results
//   are `double`; per-sample results are CPU tensors ([N] float64, or bool for success).
// - An undefined value (a rate with an empty denominator) is NaN. The JSON writer
//   (host/common/json.h) writes NaN and infinities as `null`, and reports show them as "-".
// - Shapes are checked: mismatches throw medadv::InvalidInput naming the metric and both
//   shapes.
#include <cstdint>

#include <torch/torch.h>

#include <vector>

#include "medadv/export.h"

namespace medadv::metrics {

// ---- Perturbation size ----------------------------------------------------------------
// Per-sample norms of delta = adversarial - clean over all of a sample's elements, each
// [B] float on the inputs' device.
MEDADV_API torch::Tensor linf_norm(const torch::Tensor& clean, const torch::Tensor& adversarial);
MEDADV_API torch::Tensor l2_norm(const torch::Tensor& clean, const torch::Tensor& adversarial);
// Number of changed elements (|delta| > tol) per sample.
MEDADV_API torch::Tensor l0_norm(const torch::Tensor& clean, const torch::Tensor& adversarial,
                                 double tol = 0.0);

// ---- Classification -------------------------------------------------------------------
// predictions, labels, targets: class indices [N] (any integer type).

// mean(predictions == labels); NaN when N == 0. Clean accuracy takes clean predictions.
MEDADV_API double accuracy(const torch::Tensor& predictions, const torch::Tensor& labels);
// Accuracy of the predictions on the adversarial inputs of every sample (the same formula;
// named so call sites say which one they report).
MEDADV_API double robust_accuracy(const torch::Tensor& adversarial_predictions, const torch::Tensor& labels);

// Accuracy within each true class: entry k is mean(predictions == k) over the samples
// labelled k, NaN when no sample is labelled k. A vector of num_classes entries; labels
// outside [0, num_classes) are refused. With robust predictions it shows what a single
// robust accuracy hides: which classes an attack turns.
MEDADV_API std::vector<double> per_class_accuracy(const torch::Tensor& predictions, const torch::Tensor& labels,
                                                  std::int64_t num_classes);

// Untargeted success of sample i: it was classified correctly on the clean input and
// is not on the adversarial one: clean_i == y_i && adversarial_i != y_i. [N] bool (CPU).
// Samples misclassified already on the clean input are never successes.
MEDADV_API torch::Tensor per_sample_success_untargeted(const torch::Tensor& clean_predictions,
                                                       const torch::Tensor& adversarial_predictions,
                                                       const torch::Tensor& labels);
// Untargeted attack success rate: successes / (number of clean-correct samples).
// NaN when no sample is classified correctly on the clean input.
MEDADV_API double attack_success_rate_untargeted(const torch::Tensor& clean_predictions,
                                                 const torch::Tensor& adversarial_predictions,
                                                 const torch::Tensor& labels);

// Targeted success of sample i: adversarial_i == t_i && y_i != t_i. A sample whose label
// already is its target has nothing to reach and is excluded (never a success, not
// counted). [N] bool (CPU).
MEDADV_API torch::Tensor per_sample_success_targeted(const torch::Tensor& adversarial_predictions,
                                                     const torch::Tensor& labels,
                                                     const torch::Tensor& targets);
// Targeted attack success rate: successes / (number of samples with y_i != t_i). The
// clean prediction plays no part. NaN when every label already is its target.
MEDADV_API double attack_success_rate_targeted(const torch::Tensor& adversarial_predictions,
                                               const torch::Tensor& labels, const torch::Tensor& targets);

// The softmax probability of the class each sample is predicted as, from classification
// logits [B, K]: max_k softmax(logits)_k in float64, [B] (CPU). At least 1/K.
MEDADV_API torch::Tensor predicted_class_probability(const torch::Tensor& logits);
// How far past the decision boundary an attack took the samples it turned: the mean, over
// the samples with `success` true, of `adversarial_probability` (predicted_class_probability
// of the adversarial inputs, so the probability of the class they were turned to). About
// 0.5 just past the boundary of a binary task, 1 when the wrong class saturates. NaN when
// no sample succeeded.
MEDADV_API double adversarial_confidence(const torch::Tensor& adversarial_probability, const torch::Tensor& success);

// ---- Detection ----------------------------------------------------------------------
// scores [N]: finite, higher = more adversarial. is_positive [N]: bool or 0/1, true for
// adversarial inputs. A threshold t flags every input with score >= t.

// The ROC curve with one point per distinct threshold: thresholds are +inf (flags nothing:
// fpr = tpr = 0) followed by every distinct score in decreasing order (the last one flags
// everything: fpr = tpr = 1). fpr = FP/N_neg, tpr = TP/N_pos. CPU float64 tensors of equal
// length. Throws InvalidInput without at least one positive and one negative.
struct MEDADV_API RocCurve {
  torch::Tensor fpr, tpr, thresholds;
};
MEDADV_API RocCurve roc_curve(const torch::Tensor& scores, const torch::Tensor& is_positive);

// Area under the ROC curve = Mann-Whitney U / (N_pos * N_neg) with average ranks for ties:
// the probability that a random positive scores above a random negative, ties counting
// one half. Equals the trapezoidal area under roc_curve. NaN without both classes.
MEDADV_API double roc_auc(const torch::Tensor& scores, const torch::Tensor& is_positive);

// "TPR at 90% TNR" (tnr = 0.90): the largest TPR among the thresholds of roc_curve whose
// TNR = 1 - FPR is >= tnr. Always defined with both classes present (the +inf threshold
// has TNR 1); NaN otherwise. With every negative score distinct this is the share of
// positives scoring at or above the smallest threshold that leaves at least 90% of the
// negatives below it (the "90th percentile of the clean scores" of specs/DETECTORS.md).
MEDADV_API double tpr_at_tnr(const torch::Tensor& scores, const torch::Tensor& is_positive, double tnr = 0.90);

// Detection accuracy: the best accuracy (TP + TN) / N over all thresholds of roc_curve
// (including +inf, which flags nothing), i.e. with the threshold chosen on the evaluated
// scores themselves: an optimistic, unbalanced accuracy over exactly the samples given.
// Defined with one class only; NaN when N == 0.
MEDADV_API double detection_accuracy(const torch::Tensor& scores, const torch::Tensor& is_positive);

// ---- Segmentation -------------------------------------------------------------------
// Binary masks: same shape [N, ...]; bool, integer (nonzero = foreground) or floating with
// values exactly 0 or 1 (anything else throws: threshold probabilities first).

// Dice per sample: 2 |P & T| / (|P| + |T|); 1 when both masks are empty. [N] float64 (CPU).
MEDADV_API torch::Tensor dice_per_sample(const torch::Tensor& pred_mask, const torch::Tensor& true_mask);
// The same values left on the masks' device ([N] float64): for per-step checks inside
// attack loops (the Objective's segmentation success), which must not wait for the
// device. Bool masks are used as they are, without any host synchronisation.
MEDADV_API torch::Tensor dice_per_sample_on_device(const torch::Tensor& pred_mask, const torch::Tensor& true_mask);
// IoU (Jaccard) per sample: |P & T| / |P | T|; 1 when both masks are empty.
MEDADV_API torch::Tensor iou_per_sample(const torch::Tensor& pred_mask, const torch::Tensor& true_mask);
// Means of the per-sample values over the N samples; NaN when N == 0.
MEDADV_API double dice(const torch::Tensor& pred_mask, const torch::Tensor& true_mask);
MEDADV_API double iou(const torch::Tensor& pred_mask, const torch::Tensor& true_mask);

// A label map from segmentation logits [N,K,...]: for K == 1 (one foreground logit)
// logits > 0, for K >= 2 argmax over dim 1; [N,1,...] int64, on the logits' device.
// The result is a binary mask for dice/iou when K <= 2 and the input of mean_iou.
MEDADV_API torch::Tensor label_map_from_logits(const torch::Tensor& logits);

// mIoU of label maps (integer classes in [0, num_classes), same shape): per class c,
// IoU_c = |P=c & T=c| / |P=c | T=c| accumulated over all pixels of all samples (the
// data-set-level convention of Cityscapes and mmsegmentation), averaged over the classes
// that occur in the prediction or the truth. NaN when the maps are empty.
MEDADV_API double mean_iou(const torch::Tensor& pred_labels, const torch::Tensor& true_labels,
                           std::int64_t num_classes);

// ---- Image quality ------------------------------------------------------------------
// clean, adversarial: [N, ...] with the same shape, values in a range of width data_range.

// PSNR per sample: 10 log10(data_range^2 / MSE), MSE over all of a sample's elements.
// Identical samples give +inf (written as null in JSON). [N] float64 (CPU).
MEDADV_API torch::Tensor psnr_per_sample(const torch::Tensor& clean, const torch::Tensor& adversarial,
                                         double data_range = 1.0);
// Mean over the samples with a finite PSNR (the unchanged ones say nothing about how
// visible a perturbation is); +inf when every sample is unchanged, NaN when N == 0.
MEDADV_API double mean_psnr(const torch::Tensor& clean, const torch::Tensor& adversarial,
                            double data_range = 1.0);

// SSIM per sample (Wang et al. 2004) for images [N,C,H,W] (or [N,H,W]), H and W >= 11,
// exactly as skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
// use_sample_covariance=False, data_range=data_range, channel_axis=channel) computes it:
// per channel, Gaussian-weighted local statistics (11 x 11 window: weights
// exp(-(dx^2+dy^2) / (2 * 1.5^2)), dx, dy in [-5, 5], normalised to sum 1) with population
// (co)variances, C1 = (0.01 R)^2, C2 = (0.03 R)^2,
//   S = (2 mu_x mu_y + C1)(2 cov_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2)),
// averaged over the positions where the whole window lies inside the image (skimage
// crops the 5-pixel border), then over channels. Identical images give 1. [N] float64 (CPU).
MEDADV_API torch::Tensor ssim_per_sample(const torch::Tensor& clean, const torch::Tensor& adversarial,
                                         double data_range = 1.0);
// Mean of ssim_per_sample; NaN when N == 0.
MEDADV_API double mean_ssim(const torch::Tensor& clean, const torch::Tensor& adversarial,
                            double data_range = 1.0);

// ---- Throughput ---------------------------------------------------------------------
// images / seconds; NaN unless seconds > 0.
MEDADV_API double images_per_second(std::int64_t images, double seconds);

}  // namespace medadv::metrics
