#pragma once
// Defense plugins: preprocessors (input transforms), trainers (robust training) and
// wrappers (robust inference procedures around a model).
#include <memory>

#include <torch/torch.h>

#include "medadv/attack.h"
#include "medadv/capabilities.h"
#include "medadv/context.h"
#include "medadv/dataset.h"
#include "medadv/export.h"
#include "medadv/model.h"

namespace medadv {

class MEDADV_API Preprocessor {
 public:
  virtual ~Preprocessor();
  // The transform applied at inference, [B,C,H,W] in [0,1] -> same shape.
  virtual torch::Tensor transform(const torch::Tensor& x) = 0;
  // A differentiable approximation used for the backward pass (BPDA); identity
  // unless the defense offers a better one.
  virtual torch::Tensor backward_approximation(const torch::Tensor& x);
};

// A preprocessor whose transform draws randomness (TVM's pixel dropping): derive from this
// instead of Preprocessor, and the defended model is randomised (the host finds it by
// dynamic_cast): attacked with EOT (`eot` of [[attack]]), refused without it.
class MEDADV_API RandomizedPreprocessor : public Preprocessor {
 public:
  ~RandomizedPreprocessor() override;
};

// transform(x) in the forward pass, gradient of backward_approximation(x) backward.
MEDADV_API torch::Tensor bpda(Preprocessor& p, const torch::Tensor& x);

// What a model is trained on: the train split and the val split (may be empty), read in
// batches (Batch::targets gives the labels or, for segmentation, the masks).
struct MEDADV_API TrainingSet {
  SampleSet train;
  SampleSet val;
  ModelSpec spec;
};

class MEDADV_API Trainer {
 public:
  virtual ~Trainer();
  // Trains `model` in place.
  virtual void train(TappedModule& model, const TrainingSet& data, AttackFactory& attacks,
                     RunContext& ctx) = 0;
};

class MEDADV_API Wrapper {
 public:
  virtual ~Wrapper();
  virtual std::shared_ptr<DifferentiableModel> wrap(std::shared_ptr<DifferentiableModel> model,
                                                    RunContext& ctx) = 0;
  // A randomized wrapper is attacked with EOT.
  virtual bool randomized() const = 0;
};

}  // namespace medadv
