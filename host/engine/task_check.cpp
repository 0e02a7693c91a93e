#include "engine/task_check.h"

#include <algorithm>

#include "common/text.h"
#include "engine/attack_stage.h"
#include "engine/detector_stage.h"
#include "loader/guard.h"
#include "medadv/attack.h"
#include "medadv/attack_term.h"
#include "medadv/defense.h"
#include "medadv/detector.h"
#include "medadv/detector_term.h"
#include "medadv/error.h"
#include "medadv/metrics.h"

namespace medadv::host {

namespace {

bool offers(const ModelTaps& model, const std::string& tap) {
  return std::find(model.taps.begin(), model.taps.end(), tap) != model.taps.end();
}
bool offers(const TaskFacts& facts, const std::string& tap) { return offers(ModelTaps{facts.model, facts.model_taps}, tap); }

std::string missing_tap(const ModelTaps& model, const std::string& tap) {
  return model.model + " has no tap '" + tap + "' (its taps: " + joined(model.taps, ", ") + ")";
}
std::string missing_tap(const TaskFacts& facts, const std::string& tap) {
  return missing_tap(ModelTaps{facts.model, facts.model_taps}, tap);
}

// A term that evades a detector needs that detector in the experiment, with an input
// gradient, and an attack (`detectors_fit_on`) to fit it on before this one runs.
std::vector<std::string> detector_term_problems(const Plan& plan, const AttackPlan& attack, const std::string& label,
                                                const ContextFactory& contexts) {
  std::vector<std::string> problems;
  std::vector<std::string> labels;
  for (const DetectorPlan& d : plan.detectors) labels.push_back(d.label);
  const auto named = std::find_if(plan.detectors.begin(), plan.detectors.end(),
                                  [&](const DetectorPlan& d) { return d.label == label; });
  if (named == plan.detectors.end()) {
    problems.push_back("detector = \"" + label + "\" names no [[detector]] of the experiment" +
                       did_you_mean(label, labels) + (labels.empty() ? "" : "; detectors: " + joined(labels, ", ")));
  } else {
    const PluginHandle& dp = *named->use->plugin;
    auto detector = guarded(dp.describe(), "create", [&] { return dp.create<Detector>(named->use->params, contexts(dp.name())); });
    if (!guarded(dp.describe(), "differentiable", [&] { return detector->differentiable(); }))
      problems.push_back("the detector '" + label + "' (" + dp.describe() +
                         ") has no input gradient to evade; differentiable detectors: kd, mahalanobis, mgm, gmm, svm, "
                         "dnn");
  }
  if (!attack.detectors_fit_on)
    problems.push_back("the detector it evades is fitted on another attack's adv_train outcome, as the defender "
                       "fitted it before the adaptive attacker came: give " + attack.section +
                       " detectors_fit_on = \"<label of the plain attack>\"");
  return problems;
}

}  // namespace

std::vector<std::string> task_problems(const Plan& plan, const TaskFacts& facts, const ContextFactory& contexts) {
  std::vector<std::string> problems;
  // Led by where the section is written (file:line:column), as validation's problems are.
  auto record_at = [&](const PluginUse& use, const std::string& where, const std::string& what) {
    const std::string place = use.host_keys.where().to_string();
    problems.push_back((place.empty() ? "" : place + ": ") + where + ": " + what);
  };

  // Every attack trial reports SSIM, whose window needs images of some size: found here
  // (asking the metric itself, the one place that knows it), not in each trial after training.
  if (!plan.attacks.empty()) {
    try {
      const auto probe = torch::zeros({1, 1, facts.spec.image_size, facts.spec.image_size});
      metrics::ssim_per_sample(probe, probe);
    } catch (const InvalidInput& e) {
      record_at(*plan.dataset, "dataset (" + plan.dataset->plugin->describe() + ")",
                "its images are too small for the SSIM every attack trial reports (" + std::string(e.what()) +
                "); raise dataset.image_size");
    }
  }

  // An epsilon list makes several plans of one section: check each section once.
  std::vector<std::string> seen;
  for (const AttackPlan& a : plan.attacks) {
    if (std::find(seen.begin(), seen.end(), a.section) != seen.end()) continue;
    seen.push_back(a.section);
    const PluginHandle& p = *a.use->plugin;
    try {
      auto ctx = contexts(p.name());
      auto attack = guarded(p.describe(), "create", [&] { return p.create<Attack>(a.use->params, ctx); });
      guarded(p.describe(), "check_task", [&] { check_attack_task(a, *attack, facts.spec); });
    } catch (const InvalidInput& error) {
      record_at(*a.use, a.section + " (" + p.describe() + ")", error.what());
    }
    // A black-box attack sees only the oracle's outputs: no term can read the features.
    if (a.use->plugin->threat_model() == ThreatModel::BlackBox && !a.terms.empty())
      record_at(*a.use, a.section + ".add (" + p.describe() + ")",
                "a black-box attack sees only the victim's outputs through its query oracle, so it cannot carry "
                "`add` terms (they read the model's features); use a white-box attack, or one on a surrogate");
    const auto surrogate = facts.surrogates.find(a.section);
    const ModelTaps read = surrogate != facts.surrogates.end() ? surrogate->second : ModelTaps{facts.model, facts.model_taps};
    for (const PluginUse* term_use : a.terms) {
      const PluginHandle& tp = *term_use->plugin;
      try {
        auto ctx = contexts(tp.name());
        auto term = guarded(tp.describe(), "create", [&] { return tp.create<AttackTerm>(term_use->params, ctx); });
        for (const auto& tap : term->taps())
          if (!offers(read, tap)) record_at(*term_use, term_use->section + " (" + tp.describe() + ")", missing_tap(read, tap));
        if (const auto* reader = dynamic_cast<const DetectorReadingTerm*>(term.get()))
          for (const auto& problem : detector_term_problems(plan, a, reader->detector_label(), contexts))
            record_at(*term_use, term_use->section + " (" + tp.describe() + ")", problem);
      } catch (const InvalidInput& error) {
        record_at(*term_use, term_use->section + " (" + tp.describe() + ")", error.what());
      }
    }
  }
  // A white-box attack on a randomised defense follows one draw per step unless it says
  // how many to average (EOT): refused without `eot`, as an unsound evaluation.
  for (const VariantPlan& variant : plan.variants) {
    if (!variant.defense) continue;
    const PluginHandle& dp = *variant.defense->plugin;
    bool randomized = false;
    try {
      auto ctx = contexts(dp.name());
      if (dp.kind() == Kind::Preprocessor) {
        auto p = guarded(dp.describe(), "create", [&] { return dp.create<Preprocessor>(variant.defense->params, ctx); });
        randomized = dynamic_cast<const RandomizedPreprocessor*>(p.get()) != nullptr;
      } else if (dp.kind() == Kind::Wrapper) {
        auto w = guarded(dp.describe(), "create", [&] { return dp.create<Wrapper>(variant.defense->params, ctx); });
        randomized = guarded(dp.describe(), "randomized", [&] { return w->randomized(); });
      }
    } catch (const InvalidInput& error) {
      record_at(*variant.defense, variant.defense->section + " (" + dp.describe() + ")", error.what());
      continue;
    }
    if (!randomized) continue;
    std::vector<std::string> said;
    for (const AttackPlan& a : plan.attacks) {
      const bool touches = a.use->plugin->threat_model() == ThreatModel::WhiteBox && !a.surrogate && a.bpda;
      if (!touches || a.eot > 0 || std::find(said.begin(), said.end(), a.section) != said.end()) continue;
      said.push_back(a.section);
      record_at(*a.use, a.section + ".eot (" + a.use->plugin->describe() + ")",
                "the defense '" + variant.label + "' (" + variant.defense->section + ", " + dp.describe() +
                    ") is randomised, so a gradient step through one draw follows that draw's noise: give eot = N "
                    "(e.g. 10) to average each step over N draws (Expectation over Transformation), or eot = 1 to "
                    "attack single draws knowingly");
    }
  }
  for (const DetectorPlan& d : plan.detectors) {
    const PluginHandle& p = *d.use->plugin;
    // What the detector will choose from: the model's taps, or the experiment's `layers`.
    const auto layers = experiment_layers(d);
    bool layers_missing = false;
    for (const auto& layer : layers.value_or(std::vector<std::string>{}))
      if (!offers(facts, layer)) {
        record_at(*d.use, d.use->section + ".layers (" + p.describe() + ")", missing_tap(facts, layer));
        layers_missing = true;
      }
    if (layers_missing) continue;  // said once, at `layers`
    // The detector's own choice (its `taps` parameter), as the detector stage will ask it.
    try {
      auto ctx = contexts(p.name());
      auto detector = guarded(p.describe(), "create", [&] { return p.create<Detector>(d.use->params, ctx); });
      chosen_taps(*detector, layers.value_or(facts.model_taps), p.describe());
    } catch (const InvalidInput& error) {
      record_at(*d.use, d.use->section + " (" + p.describe() + ")", error.what());
    }
  }
  return problems;
}

}  // namespace medadv::host
