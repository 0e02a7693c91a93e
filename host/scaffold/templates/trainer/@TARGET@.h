#pragma once
// @NAME@: FGSM adversarial training (Goodfellow et al., 2015) on the SDK's training loop.
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <string>

#include <medadv/medadv.h>
#include <medadv/training.h>

class @CLASS@ : public medadv::Trainer {
 public:
  static void schema(medadv::ParamSchema& s) {
    // The SDK loop's own knobs (epochs, optimizer, schedule, augmentation, early
    // stopping, ...), with the defaults and checks an experiment's [model.train] has.
    medadv::train_options_schema(s);
    s.add_epsilon("epsilon", "2/255", "L-inf radius of the FGSM training examples, in [0,1] pixel units").max(1.0);
    s.add_float("adversarial_weight", 0.5, "share of the loss from the adversarial examples (0 = natural training)")
        .min(0.0)
        .max(1.0);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/)
      : options_(medadv::train_options_from(p)),
        epsilon_(p.get_float("epsilon")),
        adversarial_weight_(p.get_float("adversarial_weight")) {}

  void train(medadv::TappedModule& model, const medadv::TrainingSet& data, medadv::AttackFactory& /*attacks*/,
             medadv::RunContext& ctx) override {
    if (data.spec.task != medadv::Task::Classification)
      throw medadv::InvalidInput("@NAME@ trains classifiers; this model is a segmentation model");
    torch::Tensor weights;  // undefined: every class weighs the same
    if (options_.class_weighting == medadv::ClassWeighting::Balanced)
      weights = medadv::class_weights(data.train.labels(), data.spec.num_classes).to(ctx.device());
    // The SDK loop does the rest: device, seeded shuffles, augmentation, schedule,
    // validation, early stopping, progress and one log line per epoch; it leaves the
    // model in eval mode, as the host expects before evaluating and attacking it.
    const medadv::BatchLoss loss = [&](medadv::TappedModule& m, const torch::Tensor& x, const torch::Tensor& y) {
      return batch_loss(m, x, y, weights);
    };
    medadv::train_model(model, data, options_, ctx, &loss);
  }

  // (1 - w) CE(x) + w CE(x_adv), x_adv = clamp(x + epsilon sign(grad_x CE(x)), 0, 1): the
  // loss of one batch (model in training mode). Public so that the test can check it.
  torch::Tensor batch_loss(medadv::TappedModule& model, const torch::Tensor& x, const torch::Tensor& y,
                           const torch::Tensor& class_weights = {}) const {
    const auto options = torch::nn::functional::CrossEntropyFuncOptions().weight(class_weights);
    const bool adversarial = epsilon_ > 0.0 && adversarial_weight_ > 0.0;
    const torch::Tensor input = adversarial ? x.detach().requires_grad_(true) : x;
    const torch::Tensor clean_loss = torch::nn::functional::cross_entropy(model.forward(input), y, options);
    if (!adversarial) return clean_loss;
    // The gradient w.r.t. the input only, keeping the graph: clean_loss still has to
    // backpropagate into the weights.
    const torch::Tensor grad = torch::autograd::grad({clean_loss}, {input}, {}, /*retain_graph=*/true)[0];
    // A constant for the weight update: the example is the attack's, not a function to train through.
    const torch::Tensor x_adv = (x.detach() + epsilon_ * grad.sign()).clamp(0.0, 1.0);
    const torch::Tensor adversarial_loss = torch::nn::functional::cross_entropy(model.forward(x_adv), y, options);
    return (1.0 - adversarial_weight_) * clean_loss + adversarial_weight_ * adversarial_loss;
  }

 private:
  medadv::TrainOptions options_;
  double epsilon_;
  double adversarial_weight_;
};
