#pragma once
// The iterative members of the gradient family as ONE attack with options: projected
// ascent (gradient_steps.h) plus momentum (MIM), input diversity (DIM) and translation
// smoothing (TIM), each switched on by its option. Every member (pgd, bim, mim, dim,
// tim) accepts every option; a plugin is only a preset of their defaults, so the
// combinations of the literature are parameter settings:
//   M-DI2-FGSM = dim with momentum = 1.0        TI-DIM = dim with translation_invariance
//   TI-MI-DI-FGSM = mim with diversity_prob = 0.5 and translation_invariance = true
// Per step: (DIM) transform the input, forward, gradient w.r.t. the input; (TIM) smooth
// the gradient; (MIM) normalise it and add it to the momentum; step along the ascent
// direction of the norm, project, clip. The order of the last two follows the TI
// authors' code, which smooths before the momentum normalisation.
#include <cstdint>
#include <memory>
#include <string>

#include <medadv/attack.h>
#include <medadv/params.h>

#include "gradient_steps.h"
#include "input_diversity.h"
#include "momentum.h"
#include "translation_invariance.h"

namespace medadv::plugins::gradient {

// The defaults that make a member of the family.
struct IterativePreset {
  const char* name;             // plugin name: messages and seed purposes
  const char* step;             // default step size text; "0" means epsilon / 10
  bool random_start;
  double momentum;
  double diversity_prob;
  bool translation_invariance;
};

// Every option of the iterative family, resolved.
struct IterativeOptions {
  std::string name;
  ProjectedSettings projected;  // norm, epsilon, step (resolved), steps, early stop, random start, restarts
  double momentum = 0.0;
  MomentumNormalization momentum_normalization = MomentumNormalization::MeanAbs;
  double diversity_prob = 0.0;
  double diversity_scale = 0.9;
  Interpolation diversity_interpolation = Interpolation::Nearest;
  bool translation_invariance = false;
  std::int64_t translation_kernel = 0;  // 0: by image size
  double translation_nsig = 3.0;
};

// The family's schema, with the preset's defaults.
inline void add_iterative_options(ParamSchema& s, const IterativePreset& preset) {
  s.add_epsilon("epsilon", "8/255",
                "Radius of the norm ball around the clean image, in pixel units ([0,1] images); "
                "at most 1 for linf");
  s.add_epsilon("step", preset.step,
                "Step size per iteration in pixel units: along sign(grad) for linf, along "
                "grad / ||grad||_2 per sample for l2. 0 means epsilon / 10 (the classic BIM alpha), "
                "which follows epsilon when an experiment lists several budgets");
  s.add_int("steps", 10, "Number of iterations per restart").min(1).max(100000);
  medadv::white_box::add_step_schedule(s);
  s.add_enum<Norm>("norm", norm_names(), Norm::Linf, "Norm of the perturbation ball");
  s.add_bool("random_start", preset.random_start,
             "Start from a uniform random point of the ball (linf: uniform in [-eps, eps] per pixel; "
             "l2: uniform in the ball); false starts from the clean image (BIM / I-FGSM)");
  s.add_int("restarts", 1,
            "Restarts; each sample keeps its first successful result, else the one with the highest "
            "objective. Later restarts update only the samples still unsolved. Without random_start "
            "and input diversity every restart would repeat the first, so one run is made")
      .min(1)
      .max(1000);
  s.add_bool("early_stop", false,
             "Stop updating a sample once it succeeds; its iterations then count the steps it took");
  s.add_float("momentum", preset.momentum,
              "Momentum mu of MI-FGSM (Dong et al. 2018): the step follows g = mu * g + grad / norm(grad); "
              "0 turns momentum off (mim: 1.0; the HFC code used 0.5 with l2 normalisation)")
      .min(0.0);
  s.add_enum<MomentumNormalization>("momentum_normalization", momentum_normalization_names(),
                                    MomentumNormalization::MeanAbs,
             "Per-sample normalisation of the gradient before it enters the momentum: its mean absolute "
             "value (Dong et al.) or its L2 norm (the HFC code)");
  s.add_float("diversity_prob", preset.diversity_prob,
              "Input diversity (DIM, Xie et al. 2019): probability per step of resizing the input to a "
              "random size in [diversity_scale * s, s) and zero-padding it back to s at a random offset "
              "before the forward; 0 turns it off (dim: 0.5)")
      .min(0.0)
      .max(1.0);
  s.add_float("diversity_scale", 0.9, "Smallest resize factor of input diversity")
      .min_exclusive(0.0)
      .max_exclusive(1.0);
  s.add_enum<Interpolation>("diversity_interpolation", interpolation_names(), Interpolation::Nearest,
             "Resize of input diversity: nearest neighbour (the authors' code) or bilinear");
  s.add_bool("translation_invariance", preset.translation_invariance,
             "Translation invariance (TIM, Dong et al. 2019): convolve the gradient depthwise with a "
             "normalised Gaussian kernel before the step (tim: true)");
  s.add_int("translation_kernel", 0,
            "Side of the Gaussian kernel of translation invariance, odd; 0 means by image size: 7 up to "
            "256 px, 15 above")
      .min(0)
      .max(255);
  s.add_float("translation_nsig", 3.0,
              "The Gaussian kernel samples the normal density at linspace(-nsig, nsig, kernel)")
      .min_exclusive(0.0)
      .max(10.0);
  add_linf_epsilon_check(s);
  s.add_check("translation_kernel is odd or 0", {"translation_kernel"}, [](const Params& p) -> std::optional<std::string> {
    const std::int64_t kernel = p.get_int("translation_kernel");
    if (kernel > 0 && kernel % 2 == 0)
      return "translation_kernel must be odd (or 0: by image size), got " + std::to_string(kernel);
    return std::nullopt;
  });
}

inline IterativeOptions read_iterative_options(const Params& p, const IterativePreset& preset) {
  IterativeOptions o;
  o.name = preset.name;
  ProjectedSettings& s = o.projected;
  s.iter.norm = p.get_enum<Norm>("norm");
  s.iter.epsilon = p.get_float("epsilon");
  const double step = p.get_float("step");
  s.iter.step = step > 0.0 ? step : s.iter.epsilon / 10.0;
  s.iter.steps = p.get_int("steps");
  medadv::white_box::read_step_schedule(p, s.iter);
  s.iter.early_stop = p.get_bool("early_stop");
  s.random_start = p.get_bool("random_start");
  s.restarts = p.get_int("restarts");
  s.seed_purpose = o.name + "/random-start/";
  o.momentum = p.get_float("momentum");
  o.momentum_normalization = p.get_enum<MomentumNormalization>("momentum_normalization");
  o.diversity_prob = p.get_float("diversity_prob");
  o.diversity_scale = p.get_float("diversity_scale");
  o.diversity_interpolation = p.get_enum<Interpolation>("diversity_interpolation");
  o.translation_invariance = p.get_bool("translation_invariance");
  o.translation_kernel = p.get_int("translation_kernel");
  o.translation_nsig = p.get_float("translation_nsig");
  // Restarts differ only through randomness: a random start or input diversity.
  if (!s.random_start && o.diversity_prob <= 0.0) s.restarts = 1;
  return o;
}

// The per-restart hooks the options ask for; an empty factory when none is on, so that
// plain pgd and bim run the bare loop.
inline HookFactory iterative_hooks(const IterativeOptions& o, RunContext& ctx) {
  const bool diversity = o.diversity_prob > 0.0;
  const bool momentum = o.momentum > 0.0;
  if (!diversity && !momentum && !o.translation_invariance) return {};
  return [o, diversity, momentum, &ctx](std::int64_t restart, const Problem& problem) {
    StepHooks hooks;
    if (diversity) {
      auto transform = std::make_shared<InputDiversity>(
          o.diversity_prob, o.diversity_scale, o.diversity_interpolation,
          ctx.seed_for(o.name + "/input-diversity/" + std::to_string(restart)));
      hooks.input = [transform](const torch::Tensor& x, std::int64_t) { return (*transform)(x); };
    }
    if (momentum || o.translation_invariance) {
      std::shared_ptr<TranslationSmoothing> smoothing;
      if (o.translation_invariance)
        smoothing = std::make_shared<TranslationSmoothing>(problem.clean, o.translation_kernel, o.translation_nsig);
      std::shared_ptr<MomentumAccumulator> accumulator;
      if (momentum) accumulator = std::make_shared<MomentumAccumulator>(o.momentum, o.momentum_normalization);
      hooks.gradient = [smoothing, accumulator](const torch::Tensor& grad, std::int64_t) {
        const auto smoothed = smoothing ? (*smoothing)(grad) : grad;
        return accumulator ? (*accumulator)(smoothed) : smoothed;
      };
    }
    return hooks;
  };
}

inline Outcome run_iterative(const Problem& problem, const IterativeOptions& o, RunContext& ctx) {
  return run_projected(problem, o.projected, ctx, iterative_hooks(o, ctx));
}

// A member of the family: the plugin classes (pgd.h, bim.h, ...) only name their preset.
class IterativeGradientAttack : public Attack {
 public:
  IterativeGradientAttack(const Params& p, const IterativePreset& preset) : options_(read_iterative_options(p, preset)) {}

  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective& objective,
                   RunContext& ctx) override {
    return to_result(run_iterative(make_problem(batch, capability, objective, options_.name), options_, ctx));
  }

  const IterativeOptions& options() const { return options_; }
  const ProjectedSettings& settings() const { return options_.projected; }

 private:
  IterativeOptions options_;
};

}  // namespace medadv::plugins::gradient
