#pragma once
// Natural training, in pieces that defense trainer plugins reuse: options with their
// parameter schema, optimizer, per-iteration learning-rate schedules, batched on-device
// augmentation, class weights, losses, evaluation, and the epoch loop itself (which takes
// an adversarial training plugin's own batch loss).
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include "medadv/context.h"
#include "medadv/defense.h"
#include "medadv/export.h"
#include "medadv/model.h"
#include "medadv/params.h"
#include "medadv/value.h"

namespace medadv {

// Random, label-preserving transforms, each drawn per sample. Geometric ones move
// segmentation masks alike.
struct MEDADV_API AugmentOptions {
  bool hflip = false;              // mirror left-right with probability 1/2
  bool vflip = false;              // mirror top-bottom with probability 1/2
  bool rot90 = false;              // rotate by 0, 90, 180 or 270 degrees (square images)
  double rotation = 0.0;           // rotate by a uniform angle in [-rotation, rotation] degrees
  std::int64_t crop_padding = 0;   // pad by this many zero pixels, crop back at a random offset
  bool any() const { return hflip || vflip || rot90 || rotation > 0.0 || crop_padding > 0; }
};

enum class OptimizerKind { Sgd, Adam };
enum class ScheduleKind { Constant, Step, Cosine, Cyclic };
enum class ClassWeighting { None, Balanced };
// Auto: cross-entropy for classification, BCE + Dice for a binary segmentation.
enum class TrainLoss { Auto, CrossEntropy, BceDice };

struct MEDADV_API TrainOptions {
  std::int64_t epochs = 10;
  std::int64_t batch_size = 32;
  OptimizerKind optimizer = OptimizerKind::Adam;
  double lr = 0.002;
  double momentum = 0.9;     // SGD only
  bool nesterov = false;     // SGD only, needs momentum > 0
  double weight_decay = 0.0;
  ScheduleKind schedule = ScheduleKind::Cosine;
  std::int64_t step_size = 10;  // step schedule: epochs between decays
  double gamma = 0.1;           // step schedule: decay factor
  AugmentOptions augment;
  ClassWeighting class_weighting = ClassWeighting::None;
  std::int64_t early_stopping = 0;  // patience in epochs on the val loss; 0 = off
  TrainLoss loss = TrainLoss::Auto;
};

// Declares every TrainOptions field (typed, defaulted, documented, ranged), with the
// defaults above: the `[model.train]` table of an experiment and any trainer plugin that
// wants the same knobs.
MEDADV_API void train_options_schema(ParamSchema& s);
// From parameters resolved against train_options_schema (whose checks refuse nesterov
// without sgd and momentum).
MEDADV_API TrainOptions train_options_from(const Params& p);

MEDADV_API std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& parameters,
                                                                   const TrainOptions& o);
MEDADV_API void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// The learning rate of every iteration (0-based) of a run of o.epochs epochs with
// `iterations_per_epoch` batches each; T = epochs * iterations_per_epoch.
//   constant  lr
//   step      lr * gamma^floor(epoch / step_size), epoch = floor(t / iterations_per_epoch)
//   cosine    lr * (1 + cos(pi t / T)) / 2
//   cyclic    one cycle (fast adversarial training): linear from lr/25 at t = 0 up to lr at
//             t = T/2, and back down to lr/25 at t = T
class MEDADV_API LearningRateSchedule {
 public:
  LearningRateSchedule(const TrainOptions& o, std::int64_t iterations_per_epoch);
  double at(std::int64_t iteration) const;
  std::int64_t total_iterations() const { return total_; }

 private:
  ScheduleKind kind_;
  double lr_, gamma_;
  std::int64_t step_size_, per_epoch_, total_;
};

// Augments a batch [B,C,H,W] on its own device; random draws come from `gen` (a CPU
// generator, so results do not depend on the device). Values stay within the input's
// range and zero (padding and rotation fill with 0). `masks` ([B,1,H,W]), when given,
// receives the same geometric transforms (nearest-neighbour for rotations).
MEDADV_API torch::Tensor augment(const torch::Tensor& images, const AugmentOptions& a, at::Generator& gen,
                                 torch::Tensor* masks = nullptr);

// Balanced class weights w_c = N / (K * n_c): inverse class frequencies, scaled so that
// the weighted class counts sum to N. A class without samples gets 0. [K] float on the
// labels' device.
MEDADV_API torch::Tensor class_weights(const torch::Tensor& labels, std::int64_t num_classes);

// Binary segmentation loss: mean BCE with logits plus (1 - soft Dice), soft Dice per
// sample (2 sum(p m) + 1) / (sum p + sum m + 1) with p = sigmoid(logits), averaged.
// logits and masks [B,1,H,W], masks 0/1.
MEDADV_API torch::Tensor bce_dice_loss(const torch::Tensor& logits, const torch::Tensor& masks);

// Metrics of a model on a labelled set; NaN where a metric does not apply.
struct MEDADV_API EvalMetrics {
  std::int64_t samples = 0;
  double loss = std::numeric_limits<double>::quiet_NaN();      // unweighted CE, or BCE + Dice
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // classification
  double auc = std::numeric_limits<double>::quiet_NaN();       // binary classification (class 1 score)
  double dice = std::numeric_limits<double>::quiet_NaN();      // segmentation with K <= 2
  Value to_value() const;
  static EvalMetrics from_value(const Value& v);  // nulls read as NaN
};

// Evaluates in eval mode without gradients, in batches of `batch_size` read from `data` on
// ctx.device(); the model's training flag is restored. An empty set gives samples = 0 and
// NaNs. Pass the training batch: a forward pass at it fits wherever training did (a larger
// evaluation batch was the largest allocation of a whole run at 224 px).
MEDADV_API EvalMetrics evaluate_model(TappedModule& model, const SampleSet& data, const ModelSpec& spec,
                                      RunContext& ctx, std::int64_t batch_size = 32);

struct MEDADV_API EpochRecord {
  std::int64_t epoch = 0;  // 1-based
  double loss = 0.0;       // mean training loss over the epoch's samples
  double lr = 0.0;         // at the epoch's last iteration
  double seconds = 0.0;
  EvalMetrics val;         // samples == 0 without a val split
};

struct MEDADV_API TrainingReport {
  std::vector<EpochRecord> epochs;
  std::int64_t best_epoch = 0;  // the epoch whose weights the model holds
  bool stopped_early = false;
  EvalMetrics val;              // of the weights the model holds
  double seconds = 0.0;
  Value to_value() const;
  static TrainingReport from_value(const Value& v);  // throws InvalidInput when malformed
};

// An adversarial training plugin's loss of one batch (x, y on the device, model in
// training mode); it must return a scalar that backpropagates into the model.
using BatchLoss = std::function<torch::Tensor(TappedModule& model, const torch::Tensor& x, const torch::Tensor& y)>;

// Trains `model` in place on data.train (labels, or masks for segmentation), read a batch
// at a time, on ctx.device(): o.epochs epochs of seeded shuffles
// (ctx.seed_for("train/shuffle")), augmentation ("train/augment"), the schedule per
// iteration, and the loss: `batch_loss` when given, else cross-entropy (weighted when
// class_weighting = balanced) or BCE + Dice. After each epoch the val split (when given)
// is evaluated. With early stopping the model ends with the weights of the epoch with the
// lowest val loss, after `early_stopping` epochs without improvement at the latest.
// Progress per batch; one ctx.log() line per epoch. Leaves the model in eval mode.
MEDADV_API TrainingReport train_model(TappedModule& model, const TrainingSet& data, const TrainOptions& o,
                                      RunContext& ctx, const BatchLoss* batch_loss = nullptr);

// Copies of every parameter and buffer, and their restoration (best-epoch weights).
MEDADV_API std::vector<torch::Tensor> snapshot_weights(torch::nn::Module& model);
MEDADV_API void restore_weights(torch::nn::Module& model, const std::vector<torch::Tensor>& saved);

}  // namespace medadv
