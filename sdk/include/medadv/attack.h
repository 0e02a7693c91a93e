#pragma once
// Attack plugins: optimisers over an Objective, given a Capability that matches their
// declared threat model.
#include <memory>
#include <string>

#include <torch/torch.h>

#include "medadv/capabilities.h"
#include "medadv/context.h"
#include "medadv/export.h"
#include "medadv/image_batches.h"
#include "medadv/objective.h"
#include "medadv/value.h"

namespace medadv {

struct MEDADV_API AttackBatch {
  torch::Tensor images;   // [B,C,H,W] in [0,1], on the run's device
  torch::Tensor labels;   // [B] int64 (or masks [B,1,H,W] for segmentation)
  torch::Tensor targets;  // [B] when the objective is targeted, else undefined
};

struct MEDADV_API AttackResult {
  torch::Tensor adversarial;  // [B,C,H,W] in [0,1], inside the attack's norm ball
  torch::Tensor success;      // [B] bool
  torch::Tensor iterations;   // [B] int64: iterations used per sample
  torch::Tensor queries;      // [B] int64: victim queries per sample (0 for white-box)
};

class MEDADV_API Attack {
 public:
  virtual ~Attack();
  virtual AttackResult run(const AttackBatch& batch, Capability& capability,
                           const Objective& objective, RunContext& ctx) = 0;
  // Refuses a task the attack cannot handle (e.g. a classification-only attack on a
  // segmentation model, or too few classes) with InvalidInput saying why. The host
  // calls it once the data set is known, before any model is trained or attacked.
  virtual void check_task(const ModelSpec& task) const;
};

// An attack that fits one perturbation on a split and applies it to any batch (UAP).
// The host calls fit() once on the adv_train split, then run() on the batches of every
// split, so the adv_test figures measure transfer to unseen images. The attack reads
// `images` a batch at a time (`batch_size` rows, with images.rows() or images.images()) on
// ctx.device(); images.labels() are the labels the objective takes, and `targets` [N] on
// the CPU (undefined unless the objective is targeted) one per row.
class MEDADV_API UniversalAttack : public Attack {
 public:
  ~UniversalAttack() override;
  virtual void fit(const ImageBatches& images, const torch::Tensor& targets, std::int64_t batch_size,
                   Capability& capability, const Objective& objective, RunContext& ctx) = 0;
};

// Lets trainers and adversarially trained detectors create attacks by plugin name.
class MEDADV_API AttackFactory {
 public:
  virtual ~AttackFactory();
  // `params` is a table validated against the attack's schema.
  virtual std::shared_ptr<Attack> make(const std::string& plugin, const Value& params) = 0;
};

}  // namespace medadv
