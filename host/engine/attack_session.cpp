#include "engine/attack_session.h"

#include <optional>

#include "engine/defended_model.h"
#include "engine/held_source.h"
#include "engine/split_batches.h"
#include "medadv/splits.h"
#include "loader/guard.h"
#include "medadv/detector_term.h"

namespace medadv::host {

AttackSession::AttackSession(const AttackPlan& plan, std::shared_ptr<DifferentiableModel> model,
                             const PreparedSurrogate* surrogate, const LoadedData& data,
                             std::int64_t batch_size, const std::filesystem::path& spill_dir, FittedTerms& fitted,
                             const DetectorFitter& fit_detector_for, const ContextFactory& contexts)
    : data_(data), contexts_(contexts) {
  const PluginHandle& p = *plan.use->plugin;
  inputs_.plan = &plan;
  inputs_.plugin = &p;
  inputs_.model = std::move(model);
  if (surrogate) {
    inputs_.surrogate = surrogate->model;
    inputs_.surrogate_description = surrogate->description;
    inputs_.surrogate_threat = surrogate->threat;
  }
  // A randomised model is attacked through the expectation over `eot` draws (engine/
  // task_check refused the attack without `eot`).
  if (plan.eot > 1 && inputs_.crafted_on()->randomized()) {
    inputs_.expectation = std::make_shared<ExpectationModel>(inputs_.crafted_on(), plan.eot);
    contexts.log().info("{}: EOT over {} draws of the randomised model", plan.section, plan.eot);
  }
  inputs_.batch_size = batch_size;
  inputs_.spill_dir = spill_dir;
  inputs_.store_memory_bytes = image_store_memory_bytes(available_memory_bytes());
  inputs_.attack = guarded(p.describe(), "create", [&] { return p.create<Attack>(plan.use->params, contexts(p.name())); });
  // Each term fits on the clean split its `fit_split` names (the training split unless
  // the experiment says adv_train), read a batch at a time.
  std::optional<SplitData> train;
  for (std::size_t t = 0; t < plan.terms.size(); ++t) {
    const PluginHandle& tp = *plan.terms[t]->plugin;
    auto term_context = contexts(tp.name());
    auto term = guarded(tp.describe(), "create", [&] { return tp.create<AttackTerm>(plan.terms[t]->params, term_context); });
    auto* reader = dynamic_cast<DetectorReadingTerm*>(term.get());
    // A term that reads a detector is as fitted as that detector, which depends on the
    // attack it is fitted on.
    const std::string key = plan.term_fit_keys[t] + (reader && plan.detectors_fit_on
                                                         ? "\nreads detectors fitted on attack " +
                                                               std::to_string(*plan.detectors_fit_on)
                                                         : "");
    if (const auto done = fitted.find(key); done != fitted.end()) {
      contexts.log().info("{}: {} as fitted for an earlier attack", plan.section, plan.terms[t]->label);
      inputs_.terms.push_back(done->second);
      continue;
    }
    if (reader) {
      const std::string label = guarded(tp.describe(), "detector_label", [&] { return reader->detector_label(); });
      FittedDetector detector = fit_detector_for(label, inputs_.crafted_on());
      guarded(tp.describe(), "use_detector", [&] { reader->use_detector(detector.detector, detector.model); });
    }
    const bool on_train = plan.term_fit_splits[t] == kTrainSplit;
    const auto& train_split = surrogate ? surrogate->splits : data.splits;
    if (on_train && !train) train = split_data(data.source, train_split.at(kTrainSplit));
    const SplitData& fit_split = on_train ? *train : data.adv_train;
    const auto fit_data = split_batches(fit_split, attack_labels(fit_split, inputs_.crafted_on()->task()));
    contexts.log().info("{}: fitting {} on {} ({} images)", plan.section, plan.terms[t]->label,
                        plan.term_fit_splits[t], fit_split.size());
    guarded(tp.describe(), "fit", [&] { term->fit(*inputs_.crafted_on(), *fit_data, batch_size, *term_context); });
    fitted.emplace(key, term);
    inputs_.terms.push_back(term);
  }
  if (auto* universal = dynamic_cast<UniversalAttack*>(inputs_.attack.get())) {
    contexts.log().info("{}: fitting the universal perturbation on adv_train ({} images)", plan.section,
                        data.adv_train.size());
    fit_universal(inputs_, *universal, data.adv_train, *contexts(p.name()));
  }
}

const AttackOutcome& AttackSession::outcome(const std::string& split, const std::string& stage) {
  auto it = outcomes_.find(split);
  if (it != outcomes_.end()) return it->second;
  AttackRunInputs staged = inputs_;
  staged.stage = stage;
  return outcomes_.emplace(split, run_attack(staged, data_.split(split), *contexts_(inputs_.plugin->name())))
      .first->second;
}

}  // namespace medadv::host
