#pragma once
// What every adversarial trainer of the family shares: the training module seen by an
// attack plugin, the scope that freezes its weights (and sets its mode) only while the
// inner attack runs, a per-batch run context (fresh random starts per batch), the
// inner-attack parameters, and the SDK training options with the survey's defaults.
//
// The inner maximisation is any attack plugin, created through the AttackFactory the
// host hands the trainer, with `epsilon`, `step` and `steps` (pgd by default; bim, mim,
// dim, tim take the same keys). It runs on the trainer's own Objective: cross-entropy for
// classification, BCE for segmentation, or a term of the trainer's (TRADES' KL).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <medadv/attack.h>
#include <medadv/attack_term.h>
#include <medadv/capabilities.h>
#include <medadv/context.h>
#include <medadv/defense.h>
#include <medadv/error.h>
#include <medadv/objective.h>
#include <medadv/params.h>
#include <medadv/training.h>

namespace medadv::plugins::adversarial_training {

// The mode the module is in while the inner attack runs. Eval (the default of TRADES' and
// MART's reference code): batch norm uses its running statistics and the attack's forwards
// leave them alone. Train (Wong et al.'s fast AT code, and what the survey's PGD-AT code
// ends up doing): batch statistics of the attacked batch, and each of the attack's
// forwards updates the running statistics.
enum class AttackMode { Eval, Train };

inline EnumNames<AttackMode> attack_mode_names() { return {{"eval", AttackMode::Eval}, {"train", AttackMode::Train}}; }

// The training module as a DifferentiableModel for the inner attack. Unlike the SDK's
// ModuleModel it does not freeze the module for good (the outer step must still train
// it) and does not own it: InnerAttackScope freezes it for the attack's duration.
class TrainingModuleView : public DifferentiableModel {
 public:
  TrainingModuleView(TappedModule& module, const ModelSpec& spec) : module_(module), spec_(spec) {}
  ModelOutput forward(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    return module_.forward_taps(x, taps);
  }
  std::vector<std::string> tap_names() const override { return module_.tap_names(); }
  std::int64_t num_classes() const override { return spec_.num_classes; }
  Task task() const override { return spec_.task; }

 private:
  TappedModule& module_;
  ModelSpec spec_;
};

// While alive: every parameter has requires_grad = false (the attack's gradients reach
// the input only and build no graph through the weights) and the module is in the
// attack's mode. Restores both on destruction, also when the attack throws, so the
// outer forward after it trains the weights as before.
class InnerAttackScope {
 public:
  InnerAttackScope(torch::nn::Module& module, AttackMode mode) : module_(module), was_training_(module.is_training()) {
    for (auto& p : module_.parameters()) {
      required_.push_back(p.requires_grad());
      p.requires_grad_(false);
    }
    module_.train(mode == AttackMode::Train);
  }
  ~InnerAttackScope() {
    std::size_t i = 0;
    for (auto& p : module_.parameters()) p.requires_grad_(i < required_.size() ? required_[i++] : true);
    module_.train(was_training_);
  }
  InnerAttackScope(const InnerAttackScope&) = delete;
  InnerAttackScope& operator=(const InnerAttackScope&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
  std::vector<bool> required_;
};

// Progress of nothing: the training loop reports progress, not the attacks inside it.
class SilentProgress : public Progress {
 public:
  void begin(const std::string&, std::int64_t) override {}
  void advance(std::int64_t) override {}
  void end() override {}
};

// The trainer's context for the inner attack of one batch: everything from the training
// context except the seed, which is derived per batch. An attack seeds its random start
// from ctx.seed_for(...), so with the training context itself every batch would start
// from the same noise pattern.
class BatchAttackContext : public RunContext {
 public:
  BatchAttackContext(RunContext& base, std::uint64_t seed) : base_(base), seed_(seed) {}
  c10::Device device() const override { return base_.device(); }
  std::uint64_t seed() const override { return seed_; }
  Logger& log() override { return base_.log(); }
  Progress& progress() override { return progress_; }
  std::filesystem::path cache_dir() const override { return base_.cache_dir(); }
  int threads() const override { return base_.threads(); }

 private:
  RunContext& base_;
  std::uint64_t seed_;
  SilentProgress progress_;
};

// ---- Parameters ------------------------------------------------------------------

// The survey's training PGD step for a budget (DEFENSES.md, "Trainers"): 0.5, 0.5, 1 and
// 2 /255 at 1, 2, 4 and 8 /255, i.e. epsilon / 4 but at least 0.5/255, and never more than
// epsilon.
inline double survey_training_step(double epsilon) {
  return std::min(epsilon, std::max(epsilon / 4.0, 0.5 / 255.0));
}

// How a trainer's `step = 0` is resolved.
enum class StepRule { Survey, FastAt };

// Defaults of one trainer's inner attack.
struct InnerAttackPreset {
  const char* trainer;  // plugin name, for messages and seed purposes
  std::int64_t steps;
  StepRule step_rule;
  AttackMode mode;
};

struct InnerAttackOptions {
  std::string trainer;
  std::string attack = "pgd";
  double epsilon = 8.0 / 255.0;
  double step = 2.0 / 255.0;  // resolved: never 0
  std::int64_t steps = 10;
  AttackMode mode = AttackMode::Eval;
};

inline double resolve_step(double step, double epsilon, StepRule rule) {
  if (step > 0.0) return step;
  return rule == StepRule::FastAt ? 1.25 * epsilon : survey_training_step(epsilon);
}

// The SDK loop's options (epochs, optimizer, schedule, augmentation, class weighting,
// early stopping) with the survey's benchmark settings as defaults (DEFENSES.md,
// "Trainers"): SGD with momentum 0.9 (no Nesterov), weight decay 1e-3, batch 32, the
// one-cycle schedule with peak lr 0.01 (the SDK's cycle peaks at half-time, the survey's
// at 25%), 100 epochs, class-balanced loss weights (the SDK's stand-in for the survey's
// class-balanced sampling).
inline void add_survey_training_options(ParamSchema& s, std::int64_t epochs = 100) {
  train_options_schema(s);
  s.set_default("epochs", Value(epochs));
  s.set_default("batch_size", Value(std::int64_t{32}));
  s.set_default("optimizer", Value("sgd"));
  s.set_default("lr", Value(0.01));
  s.set_default("momentum", Value(0.9));
  s.set_default("nesterov", Value(false));
  s.set_default("weight_decay", Value(1e-3));
  s.set_default("schedule", Value("cyclic"));
  s.set_default("class_weighting", Value("balanced"));
  // The loop's `loss` chooses its natural loss; a trainer's batch loss is its own.
  s.add_check("loss = auto (the trainer's batch loss replaces the loop's)", {"loss"},
              [](const Params& p) -> std::optional<std::string> {
                if (p.get_enum<TrainLoss>("loss") != TrainLoss::Auto)
                  return "an adversarial trainer uses its own loss (cross-entropy, or BCE for segmentation); "
                         "'loss' applies to [model.train] only";
                return std::nullopt;
              });
}

// `attack`, `epsilon`, `step`, `steps`, `attack_mode` with the preset's defaults.
inline void add_inner_attack_options(ParamSchema& s, const InnerAttackPreset& preset) {
  s.add_string("attack", "pgd",
               "Attack plugin of the inner maximisation, created through the host's attack factory with "
               "epsilon, step and steps (pgd, bim, mim, dim, tim take those keys); it maximises the trainer's "
               "objective")
      .min_length(1);
  s.add_epsilon("epsilon", "8/255", "L-inf budget of the training examples, in [0,1] pixel units").max(1.0);
  s.add_epsilon("step", "0",
                preset.step_rule == StepRule::FastAt
                    ? "Step of the inner attack; 0 means 1.25 epsilon (Wong et al.)"
                    : "Step of the inner attack; 0 means the survey's step for epsilon: 0.5, 0.5, 1, 2 /255 at "
                      "1, 2, 4, 8 /255 (epsilon / 4, at least 0.5/255, at most epsilon)");
  s.add_int("steps", preset.steps, "Steps of the inner attack").min(1).max(1000);
  s.add_enum<AttackMode>("attack_mode", attack_mode_names(), preset.mode,
                         "Mode of the model while the inner attack runs: eval (running batch-norm statistics, left "
                         "untouched) or train (batch statistics; the attack's forwards update the running ones)");
}

inline InnerAttackOptions read_inner_attack_options(const Params& p, const InnerAttackPreset& preset) {
  InnerAttackOptions o;
  o.trainer = preset.trainer;
  o.attack = p.get_string("attack");
  o.epsilon = p.get_float("epsilon");
  o.step = resolve_step(p.get_float("step"), o.epsilon, preset.step_rule);
  o.steps = p.get_int("steps");
  o.mode = p.get_enum<AttackMode>("attack_mode");
  return o;
}

// ---- Running the inner attack ---------------------------------------------------

// The parameter table handed to AttackFactory::make.
inline Value inner_attack_params(double epsilon, double step, std::int64_t steps) {
  return Value(Value::Table{{"epsilon", Value(epsilon)}, {"step", Value(step)}, {"steps", Value(steps)}});
}

// The base loss of the inner attack for a task: cross-entropy, or BCE for segmentation
// (the survey's segmentation PGD-AT).
inline BaseLoss task_base_loss(const ModelSpec& spec) {
  return spec.task == Task::Segmentation ? BaseLoss::BCE : BaseLoss::CrossEntropy;
}

// Runs `attack` on (x, y) against the training module, with the weights frozen and the
// module in `mode` for the attack's duration only. Returns the adversarial batch,
// detached (a constant of the outer step, as in every reference implementation).
inline torch::Tensor run_inner_attack(Attack& attack, TappedModule& module, const ModelSpec& spec, AttackMode mode,
                                      const torch::Tensor& x, const torch::Tensor& y, const Objective& objective,
                                      RunContext& ctx) {
  torch::Tensor adversarial;
  {
    InnerAttackScope scope(module, mode);
    auto view = std::make_shared<TrainingModuleView>(module, spec);
    Capability capability = Capability::white_box(view);
    const torch::Tensor clean = x.detach();
    objective.begin_batch(*view, clean, y, torch::Tensor(), ctx);
    adversarial = attack.run(AttackBatch{clean, y, torch::Tensor()}, capability, objective, ctx).adversarial;
  }
  if (!adversarial.defined() || adversarial.sizes() != x.sizes())
    throw Error("the inner attack returned no adversarial batch of the input's shape");
  return adversarial.detach();
}

// A trainer's inner attack: created once per train() call through the factory, run once
// per batch with a per-batch seed.
class InnerAttack {
 public:
  InnerAttack(const InnerAttackOptions& o, AttackFactory& attacks, const ModelSpec& spec, RunContext& ctx)
      : options_(o), spec_(spec), ctx_(ctx), seed_base_(ctx.seed_for(o.trainer + "/inner-attack")) {
    attack_ = attacks.make(o.attack, inner_attack_params(o.epsilon, o.step, o.steps));
    if (!attack_) throw Error(o.trainer + ": the attack factory returned no '" + o.attack + "' attack");
    attack_->check_task(spec);
  }

  torch::Tensor run(TappedModule& module, const torch::Tensor& x, const torch::Tensor& y, const Objective& objective) {
    BatchAttackContext batch_ctx(ctx_, derive_seed(seed_base_, std::to_string(batch_++)));
    return run_inner_attack(*attack_, module, spec_, options_.mode, x, y, objective, batch_ctx);
  }

  const InnerAttackOptions& options() const { return options_; }

 private:
  InnerAttackOptions options_;
  ModelSpec spec_;
  RunContext& ctx_;
  std::uint64_t seed_base_;
  std::int64_t batch_ = 0;
  std::shared_ptr<Attack> attack_;
};

// ---- Losses --------------------------------------------------------------------

// Per-sample loss of the task: cross-entropy [B] for classification, mean BCE over the
// pixels [B] for segmentation (medadv::bce_per_sample).
inline torch::Tensor task_loss_per_sample(const torch::Tensor& logits, const torch::Tensor& y, const ModelSpec& spec) {
  return spec.task == Task::Segmentation ? bce_per_sample(logits, y) : cross_entropy_per_sample(logits, y);
}

// sum_i w[y_i] l_i / sum_i w[y_i]: the class-weighted mean of a per-sample loss (the
// reduction of a weighted cross-entropy); the plain mean when `class_weights` is
// undefined or the task is segmentation.
inline torch::Tensor weighted_mean(const torch::Tensor& per_sample, const torch::Tensor& y,
                                   const torch::Tensor& class_weights) {
  if (!class_weights.defined() || y.dim() != 1) return per_sample.mean();
  const torch::Tensor w = class_weights.index_select(0, y).to(per_sample.dtype());
  return (w * per_sample).sum() / w.sum();
}

// The trainer's class weights for a training set (undefined unless balanced).
inline torch::Tensor trainer_class_weights(const TrainOptions& o, const TrainingSet& data, RunContext& ctx) {
  if (o.class_weighting != ClassWeighting::Balanced || data.spec.task != Task::Classification) return {};
  return class_weights(data.train.labels(), data.spec.num_classes).to(ctx.device());
}

}  // namespace medadv::plugins::adversarial_training
