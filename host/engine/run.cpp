#include "engine/run.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "engine/attack_files.h"
#include "engine/attack_session.h"
#include "engine/clean_stage.h"
#include "engine/data_stage.h"
#include "engine/detector_stage.h"
#include "engine/surrogate.h"
#include "engine/trial_records.h"
#include "engine/variants.h"
#include "medadv/device.h"
#include "medadv/splits.h"
#include "train/model_provider.h"

namespace medadv::host {

namespace fs = std::filesystem;

namespace {

ContextFactory run_contexts(const CheckedExperiment& e) {
  ContextFactory contexts({resolve_device(e.device), e.seed, e.threads, default_cache_dir()}, host_log());
  apply_compute_settings(*contexts(), e.cuda_math);
  return contexts;
}

PreparedModel train_or_load(const LoadedExperiment& experiment, const Plan& plan, const LoadedData& data,
                            const ContextFactory& contexts) {
  const PluginHandle& model = *plan.model->plugin;
  ModelRequest request = model_request(experiment.checked, *plan.model, *plan.dataset, experiment.file,
                                       contexts.settings().cache_dir, contexts(model.name()));
  PreparedModel prepared = prepare_model(request, data.source, data.splits, *request.model_context);
  contexts.log().info("model: {} ({})", model.describe(), weights_origin(prepared));
  return prepared;
}

std::shared_ptr<DifferentiableModel> defend(const VariantPlan& variant, const PreparedModel& baseline,
                                            const LoadedData& data, const LoadedExperiment& experiment,
                                            const Plan& plan, const ContextFactory& contexts) {
  VariantInputs in;
  in.baseline = &baseline;
  in.model = plan.model;
  in.model_context = contexts(plan.model->plugin->name());
  in.data = data.source;
  in.splits = &data.splits;
  in.registry = &experiment.registry;
  in.cache_root = contexts.settings().cache_dir;
  in.model_hash = plan.model_hash;
  return build_variant(variant, in, contexts(variant.defense ? variant.defense->plugin->name() : ""));
}

// The trials of `all` that `belongs` picks and the run has not finished yet.
std::vector<const Trial*> pending_trials(const std::vector<const Trial*>& all, const RunRecord& record,
                                         const std::function<bool(const Trial&)>& belongs) {
  std::vector<const Trial*> out;
  for (const Trial* t : all)
    if (belongs(*t) && record.pending(*t)) out.push_back(t);
  return out;
}

}  // namespace

void check_against_data(const LoadedExperiment& experiment, const Plan& plan) {
  load_data(plan, experiment.checked.seed, experiment.checked.batch_size, run_contexts(experiment.checked));
}

MemoryEstimate estimate_run_memory(const LoadedExperiment& experiment, const Plan& plan) {
  const CheckedExperiment& e = experiment.checked;
  return estimate_run_memory(plan, e.seed, e.batch_size, run_contexts(e));
}

fs::path run_experiment(const LoadedExperiment& experiment, const Plan& plan, const RunOptions& options) {
  const CheckedExperiment& e = experiment.checked;
  const ContextFactory contexts = run_contexts(e);
  RunRecord record(experiment, plan, options, contexts);
  if (!record.any_pending()) {
    record.finish();
    return record.dir();
  }
  const LoadedData data = load_data(plan, e.seed, e.batch_size, contexts);
  const PreparedModel baseline = train_or_load(experiment, plan, data, contexts);
  const DatasetMeta& meta = data.source->meta();
  const Value* report_keys = e.resolved.find("report");
  const Value report = report_keys ? *report_keys : Value(Value::Table{});
  std::vector<const Trial*> all;
  for (const Trial& t : plan.trials) all.push_back(&t);
  // Prepared when an attack first needs it; every variant's attack reads the same one.
  std::map<std::string, PreparedSurrogate> surrogates;
  auto surrogate_of = [&](std::size_t index) -> const PreparedSurrogate* {
    const AttackPlan& attack = plan.attacks[index];
    if (!attack.surrogate) return nullptr;
    auto it = surrogates.find(attack.section);
    if (it == surrogates.end())
      it = surrogates.emplace(attack.section, prepare_surrogate(experiment, plan, attack, data, contexts)).first;
    return &it->second;
  };

  for (std::size_t v = 0; v < plan.variants.size(); ++v) {
    const auto of_variant = pending_trials(all, record, [&](const Trial& t) { return t.variant == v; });
    if (of_variant.empty()) continue;
    const auto model = defend(plan.variants[v], baseline, data, experiment, plan, contexts);
    FittedTerms fitted_terms;
    // A `bpda = false` attack on a transform defense is crafted on the undefended model,
    // held white-box, and scored on the defended one (the non-adaptive setting).
    std::optional<PreparedSurrogate> undefended;
    const PluginUse* defense = plan.variants[v].defense;
    const bool transform_defense =
        defense && (defense->plugin->kind() == Kind::Preprocessor || defense->plugin->kind() == Kind::Wrapper);
    auto crafted_on = [&](std::size_t index) -> const PreparedSurrogate* {
      if (plan.attacks[index].bpda || !transform_defense || plan.attacks[index].surrogate) return surrogate_of(index);
      if (!undefended) {
        undefended.emplace();
        undefended->model = std::make_shared<ModuleModel>(baseline.module, baseline.spec.num_classes, baseline.spec.task);
        undefended->splits = {{kTrainSplit, data.splits.at(kTrainSplit)}, {kValSplit, data.splits.at(kValSplit)}};
        undefended->description = "the undefended model (bpda = false)";
        undefended->val = baseline.report.val;
        undefended->threat = ThreatModel::WhiteBox;
      }
      return &*undefended;
    };
    // Attacks whose adv_train outcome fits another attack's detectors (detectors_fit_on)
    // keep their session for the variant; the others end with their loop.
    std::map<std::size_t, std::unique_ptr<AttackSession>> fit_sessions;
    std::function<std::unique_ptr<AttackSession>(std::size_t)> new_session;
    auto fit_session = [&](std::size_t index) -> AttackSession& {
      auto& session = fit_sessions[index];
      if (!session) session = new_session(index);
      return *session;
    };
    new_session = [&](std::size_t index) {
      // A term of the attack that reads a detector gets it fitted on the outcome of the
      // attack `detectors_fit_on` names, as the detector stage fits it (engine/task_check
      // made sure there is one).
      const DetectorFitter fitter = [&, index](const std::string& label, std::shared_ptr<DifferentiableModel> on) {
        const AttackPlan& attack = plan.attacks[index];
        const std::size_t fit_on = attack.detectors_fit_on.value();
        const AttackPlan& fit_plan = plan.attacks[fit_on];
        const DetectorPlan& detector = *std::find_if(plan.detectors.begin(), plan.detectors.end(),
                                                     [&](const DetectorPlan& d) { return d.label == label; });
        const AttackOutcome& fit = fit_session(fit_on).outcome(
            kAdvTrainSplit, attack.section + ": '" + fit_plan.label + "' on adv_train, to fit '" + label + "'");
        FittedDetector fitted = fit_detector(detector, std::move(on), fit_plan, data.adv_train, fit,
                                             experiment.registry, contexts(detector.use->plugin->name()));
        if (!fitted.detector)
          throw Error(attack.section + ": the detector '" + label + "' its term evades cannot be fitted: '" +
                      fit_plan.label + "' turned " + std::to_string(fitted.fit_samples) +
                      " adv_train samples (2 needed); raise its budget or steps, or use more data");
        return fitted;
      };
      return std::make_unique<AttackSession>(plan.attacks[index], model, crafted_on(index), data, e.batch_size,
                                             record.dir(), fitted_terms, fitter, contexts);
    };
    for (const Trial* t : pending_trials(of_variant, record, [](const Trial& t) { return t.kind == TrialKind::Clean; })) {
      record.begin(*t);
      const auto clean = evaluate_clean(*model, data.split(t->split), e.batch_size, contexts.settings().device);
      record.append(*t, clean_record(plan, *t, meta, clean));
    }
    for (std::size_t a = 0; a < plan.attacks.size(); ++a) {
      const auto of_attack = pending_trials(of_variant, record, [&](const Trial& t) { return t.attack == a; });
      if (of_attack.empty()) continue;
      const bool fits_others = std::any_of(plan.attacks.begin(), plan.attacks.end(),
                                           [&](const AttackPlan& other) { return other.detectors_fit_on == a; });
      std::unique_ptr<AttackSession> own;
      AttackSession& attack = fits_others ? fit_session(a) : *(own = new_session(a));
      for (const Trial* t : of_attack) {
        const std::string stage = record.begin(*t);
        if (t->kind == TrialKind::Attack) {
          const SplitData& split = data.split(t->split);
          const AttackOutcome& outcome = attack.outcome(t->split, stage);
          const AttackFiles files = write_attack_files(record.dir(), report, *t, meta.task, split, outcome);
          record.append(*t, attack_record(plan, *t, meta, split, outcome, files.files, files.examples));
        } else {  // detect: fitted on adv_train (this attack's or detectors_fit_on's), scored on adv_test
          const auto fit_on = plan.attacks[a].detectors_fit_on;
          const AttackPlan& fit_plan = plan.attacks[fit_on.value_or(a)];
          const AttackOutcome& fit =
              fit_on ? fit_session(*fit_on).outcome(kAdvTrainSplit, stage + " ('" + fit_plan.label + "' on adv_train)")
                     : attack.outcome(kAdvTrainSplit, stage + " (attack on adv_train)");
          const AttackOutcome& test = attack.outcome(kAdvTestSplit, stage + " (attack on adv_test)");
          const DetectorPlan& detector = plan.detectors[*t->detector];
          const DetectionOutcome detection =
              run_detector(detector, model, fit_plan, data.adv_train, fit, plan.attacks[a], data.adv_test, test,
                           experiment.registry, e.batch_size, contexts(detector.use->plugin->name()));
          record.append(*t, detector_record(plan, *t, data.adv_test, test, detection));
        }
      }
    }
  }
  record.finish();
  return record.dir();
}

}  // namespace medadv::host
