#include "engine/task_check.h"

#include <algorithm>

#include "common/text.h"
#include "engine/attack_stage.h"
#include "engine/detector_stage.h"
#include "loader/guard.h"
#include "medadv/attack.h"
#include "medadv/attack_term.h"
#include "medadv/detector.h"
#include "medadv/error.h"
#include "medadv/metrics.h"

namespace medadv::host {

namespace {

bool offers(const TaskFacts& facts, const std::string& tap) {
  return std::find(facts.model_taps.begin(), facts.model_taps.end(), tap) != facts.model_taps.end();
}

std::string missing_tap(const TaskFacts& facts, const std::string& tap) {
  return facts.model + " has no tap '" + tap + "' (its taps: " + joined(facts.model_taps, ", ") + ")";
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
    for (const PluginUse* term_use : a.terms) {
      const PluginHandle& tp = *term_use->plugin;
      try {
        auto ctx = contexts(tp.name());
        auto term = guarded(tp.describe(), "create", [&] { return tp.create<AttackTerm>(term_use->params, ctx); });
        for (const auto& tap : term->taps())
          if (!offers(facts, tap)) record_at(*term_use, term_use->section + " (" + tp.describe() + ")", missing_tap(facts, tap));
      } catch (const InvalidInput& error) {
        record_at(*term_use, term_use->section + " (" + tp.describe() + ")", error.what());
      }
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
