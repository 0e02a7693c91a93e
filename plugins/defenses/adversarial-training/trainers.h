#pragma once
// The adversarial trainers: pgd-at (Madry et al. 2018), fast-at (Wong et al. 2020),
// trades (Zhang et al. 2019), mart (Wang et al. 2020) and mpadvt (Xu et al. 2021). Each
// is a loss over one batch on the SDK's training loop (medadv::train_model), which does
// the epochs, optimizer, schedule, augmentation, validation and early stopping; each
// creates its inner attack through the host's AttackFactory (DEFENSES.md, "Trainers").
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <ATen/core/Generator.h>
#include <medadv/defense.h>
#include <medadv/error.h>
#include <medadv/params.h>
#include <medadv/torch_compat.h>
#include <medadv/training.h>

#include "inner_attack.h"
#include "losses.h"

namespace medadv::plugins::adversarial_training {

// What every trainer of the family does around its batch loss: read the loop's options,
// check the task, prepare the inner attack, run the SDK loop with the batch loss.
class AdversarialTrainer : public Trainer {
 public:
  explicit AdversarialTrainer(const Params& p) : options_(train_options_from(p)) {}

  void train(TappedModule& model, const TrainingSet& data, AttackFactory& attacks, RunContext& ctx) override {
    check_task(data.spec);
    prepare(attacks, data.spec, trainer_class_weights(options_, data, ctx), ctx);
    const BatchLoss loss = [this](TappedModule& m, const torch::Tensor& x, const torch::Tensor& y) {
      return batch_loss(m, x, y);
    };
    report_ = train_model(model, data, options_, ctx, &loss);
    release();
  }

  // Creates the inner attack for a task; `class_weights` (undefined: none) weigh the
  // per-sample losses. train() calls it; tests call it before batch_loss().
  virtual void prepare(AttackFactory& attacks, const ModelSpec& spec, const torch::Tensor& class_weights,
                       RunContext& ctx) = 0;
  // The loss of one batch (model in training mode), after prepare().
  virtual torch::Tensor batch_loss(TappedModule& model, const torch::Tensor& x, const torch::Tensor& y) = 0;
  // Refuses a task the method does not define (InvalidInput).
  virtual void check_task(const ModelSpec& spec) const = 0;
  // Drops what prepare() made (the attack refers to the factory and the call's context).
  virtual void release() = 0;

  const TrainOptions& options() const { return options_; }
  // The SDK loop's report of the last train() call.
  const TrainingReport& report() const { return report_; }

 protected:
  static void require_classification(const ModelSpec& spec, const char* trainer) {
    if (spec.task != Task::Classification)
      throw InvalidInput(std::string(trainer) +
                         " is defined for classifiers; this model is a segmentation model (pgd-at trains "
                         "segmentation models with the BCE loss)");
  }

  TrainOptions options_;
  TrainingReport report_;
};

// ---- pgd-at and fast-at: the task loss on the inner attack's examples only -------------

inline constexpr InnerAttackPreset kPgdAtPreset{"pgd-at", 10, StepRule::Survey, AttackMode::Eval};
inline constexpr InnerAttackPreset kFastAtPreset{"fast-at", 1, StepRule::FastAt, AttackMode::Train};

// PGD-AT (Madry et al. 2018): min E[max_{|d| <= eps} L(f(x + d), y)], the outer loss the
// task's on the inner attack's examples only: cross-entropy for classifiers, BCE for
// segmentation models (the survey's segmentation PGD-AT), inner attack on the same loss.
// fast-at is the same with one step of 1.25 epsilon from a uniform random start (pgd with
// steps = 1), in train mode as Wong et al.'s code.
class PgdAt : public AdversarialTrainer {
 public:
  static void schema(ParamSchema& s) { schema_with(s, kPgdAtPreset); }
  static void schema_with(ParamSchema& s, const InnerAttackPreset& preset) {
    add_survey_training_options(s);
    add_inner_attack_options(s, preset);
  }

  PgdAt(const Params& p, RunContext&, const InnerAttackPreset& preset = kPgdAtPreset)
      : AdversarialTrainer(p), inner_options_(read_inner_attack_options(p, preset)) {}

  void check_task(const ModelSpec&) const override {}
  void prepare(AttackFactory& attacks, const ModelSpec& spec, const torch::Tensor& class_weights,
               RunContext& ctx) override {
    spec_ = spec;
    weights_ = class_weights;
    objective_.emplace(task_base_loss(spec), false);
    inner_ = std::make_unique<InnerAttack>(inner_options_, attacks, spec, ctx);
  }
  torch::Tensor batch_loss(TappedModule& model, const torch::Tensor& x, const torch::Tensor& y) override {
    if (!inner_) throw Error(inner_options_.trainer + ": batch_loss() before prepare()");
    const torch::Tensor x_adv = inner_->run(model, x, y, *objective_);
    return weighted_mean(task_loss_per_sample(model.forward(x_adv), y, spec_), y, weights_);
  }
  void release() override { inner_.reset(); }

  const InnerAttackOptions& inner_options() const { return inner_options_; }

 private:
  InnerAttackOptions inner_options_;
  ModelSpec spec_;
  torch::Tensor weights_;
  std::optional<Objective> objective_;
  std::unique_ptr<InnerAttack> inner_;
};

class FastAt : public PgdAt {
 public:
  static void schema(ParamSchema& s) { schema_with(s, kFastAtPreset); }
  FastAt(const Params& p, RunContext& ctx) : PgdAt(p, ctx, kFastAtPreset) {}
};

// ---- trades and mart: clean and adversarial logits ---------------------------------

inline constexpr InnerAttackPreset kTradesPreset{"trades", 10, StepRule::Survey, AttackMode::Eval};
inline constexpr InnerAttackPreset kMartPreset{"mart", 10, StepRule::Survey, AttackMode::Eval};

// TRADES and MART: a loss of the clean and the adversarial logits weighted by beta, the
// adversarial batch from an inner attack on an objective of the method's own. Classifiers
// only.
class CleanAndAdversarialTrainer : public AdversarialTrainer {
 public:
  void check_task(const ModelSpec& spec) const override { require_classification(spec, inner_options_.trainer.c_str()); }
  void prepare(AttackFactory& attacks, const ModelSpec& spec, const torch::Tensor& class_weights,
               RunContext& ctx) override {
    weights_ = class_weights;
    objective_.emplace(make_objective_());
    inner_ = std::make_unique<InnerAttack>(inner_options_, attacks, spec, ctx);
  }
  torch::Tensor batch_loss(TappedModule& model, const torch::Tensor& x, const torch::Tensor& y) override {
    if (!inner_) throw Error(inner_options_.trainer + ": batch_loss() before prepare()");
    const torch::Tensor x_adv = inner_->run(model, x, y, *objective_);
    return loss_(model.forward(x), model.forward(x_adv), y, beta_, weights_);
  }
  void release() override { inner_.reset(); }

 protected:
  using PairLoss = torch::Tensor (*)(const torch::Tensor& clean_logits, const torch::Tensor& adversarial_logits,
                                     const torch::Tensor& y, double beta, const torch::Tensor& class_weights);
  // `make_objective` builds the inner attack's objective afresh at each prepare().
  CleanAndAdversarialTrainer(const Params& p, const InnerAttackPreset& preset, Objective (*make_objective)(),
                             PairLoss loss)
      : AdversarialTrainer(p),
        inner_options_(read_inner_attack_options(p, preset)),
        beta_(p.get_float("beta")),
        make_objective_(make_objective),
        loss_(loss) {}

 private:
  InnerAttackOptions inner_options_;
  double beta_;
  Objective (*make_objective_)();
  PairLoss loss_;
  torch::Tensor weights_;
  std::optional<Objective> objective_;
  std::unique_ptr<InnerAttack> inner_;
};

// TRADES: CE(f(x), y) + beta KL(p(x) || p(x_adv)), x_adv maximising the KL (the inner
// objective is TradesKlTerm alone).
class Trades : public CleanAndAdversarialTrainer {
 public:
  static void schema(ParamSchema& s) {
    add_survey_training_options(s);
    add_inner_attack_options(s, kTradesPreset);
    s.add_float("beta", 6.0,
                "Weight of the KL term (robustness against clean accuracy); 0 is natural training. The survey used "
                "6, and 12 on binary Messidor")
        .min(0.0)
        .max(1000.0);
  }
  Trades(const Params& p, RunContext&) : CleanAndAdversarialTrainer(p, kTradesPreset, &kl_objective, &trades_loss) {}

 private:
  static Objective kl_objective() {
    Objective objective(BaseLoss::None, false);
    objective.add_term(std::make_shared<TradesKlTerm>(), 1.0, "trades-kl");
    return objective;
  }
};

// MART: boosted CE on x_adv + beta KL(p(x) || p(x_adv)) (1 - p_y(x)), x_adv maximising CE.
class Mart : public CleanAndAdversarialTrainer {
 public:
  static void schema(ParamSchema& s) {
    add_survey_training_options(s);
    add_inner_attack_options(s, kMartPreset);
    s.add_float("beta", 6.0, "Weight of the misclassification-aware KL term (the survey's 6)").min(0.0).max(1000.0);
  }
  Mart(const Params& p, RunContext&) : CleanAndAdversarialTrainer(p, kMartPreset, &ce_objective, &mart_loss) {}

 private:
  static Objective ce_objective() { return Objective(BaseLoss::CrossEntropy, false); }
};

// ---- mpadvt: random replacement of whole batches -----------------------------------

// One batch's draw of MPAdvT.
struct MpAdvTDraw {
  bool replace = false;
  double epsilon = 0.0;
  std::int64_t steps = 0;
};

// MPAdvT (Xu et al., MedIA 2021): with probability `probability` a batch is replaced by
// its PGD examples at epsilon ~ U(epsilon_min, epsilon_max) with steps ~ U{steps_min ..
// steps_max} of `step`; the loss is the task's on the batch the draw leaves.
class MpAdvT : public AdversarialTrainer {
 public:
  static void schema(ParamSchema& s) {
    add_survey_training_options(s);
    s.add_string("attack", "pgd",
                 "Attack plugin of the replacement examples, created through the host's attack factory with "
                 "epsilon, step and steps (pgd, bim, mim, dim, tim take those keys)")
        .min_length(1);
    s.add_float("probability", 0.5, "Probability that a batch is replaced by its adversarial examples").min(0.0).max(1.0);
    s.add_epsilon("epsilon_min", "0.01", "Smallest budget drawn (L-inf, [0,1] pixel units)").max(1.0);
    s.add_epsilon("epsilon_max", "0.04", "Largest budget drawn (L-inf, [0,1] pixel units)").max(1.0);
    s.add_epsilon("step", "1/255", "Step of the attack").min_exclusive(0.0).max(1.0);
    s.add_int("steps_min", 1, "Fewest steps drawn").min(1).max(1000);
    s.add_int("steps_max", 9, "Most steps drawn").min(1).max(1000);
    s.add_enum<AttackMode>("attack_mode", attack_mode_names(), AttackMode::Eval,
                           "Mode of the model while the attack runs: eval (running batch-norm statistics, left "
                           "untouched) or train (batch statistics; the attack's forwards update the running ones)");
    s.add_check("epsilon_min <= epsilon_max", {"epsilon_min", "epsilon_max"},
                [](const Params& p) -> std::optional<std::string> {
                  if (p.get_float("epsilon_min") > p.get_float("epsilon_max"))
                    return "epsilon_min (" + p.text_of("epsilon_min") + ") exceeds epsilon_max (" +
                           p.text_of("epsilon_max") + ")";
                  return std::nullopt;
                });
    s.add_check("steps_min <= steps_max", {"steps_min", "steps_max"}, [](const Params& p) -> std::optional<std::string> {
      if (p.get_int("steps_min") > p.get_int("steps_max"))
        return "steps_min (" + std::to_string(p.get_int("steps_min")) + ") exceeds steps_max (" +
               std::to_string(p.get_int("steps_max")) + ")";
      return std::nullopt;
    });
  }

  MpAdvT(const Params& p, RunContext&)
      : AdversarialTrainer(p),
        attack_(p.get_string("attack")),
        probability_(p.get_float("probability")),
        epsilon_min_(p.get_float("epsilon_min")),
        epsilon_max_(p.get_float("epsilon_max")),
        step_(p.get_float("step")),
        steps_min_(p.get_int("steps_min")),
        steps_max_(p.get_int("steps_max")),
        mode_(p.get_enum<AttackMode>("attack_mode")) {}

  // The next batch's draw from `gen`: replace with probability `probability`, epsilon
  // uniform in [epsilon_min, epsilon_max], steps uniform in {steps_min .. steps_max}.
  MpAdvTDraw draw(at::Generator& gen) const {
    const torch::Tensor u = torch::rand({3}, gen, torch::TensorOptions().dtype(torch::kFloat64));
    MpAdvTDraw d;
    d.replace = u[0].item<double>() < probability_;
    d.epsilon = epsilon_min_ + (epsilon_max_ - epsilon_min_) * u[1].item<double>();
    const std::int64_t span = steps_max_ - steps_min_ + 1;
    d.steps = std::min(steps_max_, steps_min_ + static_cast<std::int64_t>(u[2].item<double>() * static_cast<double>(span)));
    return d;
  }

  void check_task(const ModelSpec&) const override {}
  void prepare(AttackFactory& attacks, const ModelSpec& spec, const torch::Tensor& class_weights,
               RunContext& ctx) override {
    attacks_ = &attacks;
    ctx_ = &ctx;
    spec_ = spec;
    weights_ = class_weights;
    objective_.emplace(task_base_loss(spec), false);
    gen_ = compat::cpu_generator(ctx.seed_for("mpadvt/draws"));
    seed_base_ = ctx.seed_for("mpadvt/inner-attack");
    batch_ = 0;
    // The attack named exists and takes the keys: refused here, before any training.
    const auto probe = attacks.make(attack_, inner_attack_params(epsilon_max_, step_, steps_max_));
    if (!probe) throw Error("mpadvt: the attack factory returned no '" + attack_ + "' attack");
    probe->check_task(spec);
  }
  torch::Tensor batch_loss(TappedModule& model, const torch::Tensor& x, const torch::Tensor& y) override {
    if (!attacks_ || !gen_) throw Error("mpadvt: batch_loss() before prepare()");
    const MpAdvTDraw d = draw(*gen_);
    last_draw_ = d;
    torch::Tensor input = x;
    if (d.replace) {
      auto attack = attacks_->make(attack_, inner_attack_params(d.epsilon, step_, d.steps));
      BatchAttackContext batch_ctx(*ctx_, derive_seed(seed_base_, std::to_string(batch_)));
      input = run_inner_attack(*attack, model, spec_, mode_, x, y, *objective_, batch_ctx);
    }
    ++batch_;
    return weighted_mean(task_loss_per_sample(model.forward(input), y, spec_), y, weights_);
  }
  void release() override {
    attacks_ = nullptr;
    ctx_ = nullptr;
  }

  // The draw of the last batch_loss() call (tests).
  const MpAdvTDraw& last_draw() const { return last_draw_; }

 private:
  std::string attack_;
  double probability_, epsilon_min_, epsilon_max_, step_;
  std::int64_t steps_min_, steps_max_;
  AttackMode mode_;
  AttackFactory* attacks_ = nullptr;
  RunContext* ctx_ = nullptr;
  ModelSpec spec_;
  torch::Tensor weights_;
  std::optional<Objective> objective_;
  std::optional<at::Generator> gen_;
  std::uint64_t seed_base_ = 0;
  std::int64_t batch_ = 0;
  MpAdvTDraw last_draw_;
};

}  // namespace medadv::plugins::adversarial_training
