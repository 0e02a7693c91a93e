#include "engine/runner.h"

#include <chrono>
#include <iostream>
#include <map>
#include <optional>

#include "cli/logging.h"
#include "engine/atomic_file.h"
#include "engine/attack_stage.h"
#include "engine/task_check.h"
#include "engine/detector_stage.h"
#include "engine/example_grid.h"
#include "engine/host_context.h"
#include "engine/manifest.h"
#include "engine/results_log.h"
#include "engine/run_directory.h"
#include "engine/trial_records.h"
#include "engine/variants.h"
#include "experiment/plan.h"
#include "loader/guard.h"
#include "medadv/device.h"
#include "medadv/error.h"
#include "medadv/image_io.h"
#include "medadv/metrics.h"
#include "medadv/npz.h"
#include "medadv/splits.h"
#include "report/json.h"
#include "report/report.h"
#include "train/model_provider.h"

namespace medadv::host {

namespace fs = std::filesystem;

namespace {

SplitData subset(const DatasetContents& data, const torch::Tensor& index) {
  SplitData s;
  s.images = data.images.index_select(0, index);
  if (data.labels.defined()) s.labels = data.labels.index_select(0, index);
  if (data.masks.defined()) s.masks = data.masks.index_select(0, index);
  return s;
}

void check_contents(const DatasetContents& d, const std::string& who) {
  auto fail = [&](const std::string& m) { throw PluginFailure(who + " returned a data set that " + m); };
  if (!d.images.defined() || d.images.dim() != 4) fail("has no [N,C,H,W] images");
  const auto n = d.images.size(0);
  if (d.meta.task == Task::Classification && (!d.labels.defined() || d.labels.dim() != 1 || d.labels.size(0) != n))
    fail("has no labels [N] for its " + std::to_string(n) + " images");
  if (d.meta.task == Task::Segmentation && (!d.masks.defined() || d.masks.size(0) != n))
    fail("has no masks [N,1,H,W] for its " + std::to_string(n) + " images");
}

CleanEvaluation evaluate_clean(DifferentiableModel& model, const SplitData& split, std::int64_t batch_size,
                               c10::Device device) {
  CleanEvaluation e;
  e.n = split.size();
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  if (model.task() == Task::Classification) {
    e.accuracy = metrics::accuracy(predict(model, split.images, batch_size, device), split.labels);
  } else {
    std::vector<torch::Tensor> maps;
    for (std::int64_t i = 0; i < e.n; i += batch_size)
      maps.push_back(metrics::label_map_from_logits(
                         model.logits(split.images.slice(0, i, std::min(i + batch_size, e.n)).to(device)))
                         .cpu());
    auto predicted = torch::cat(maps);
    auto truth = split.masks.round().to(torch::kLong);
    e.dice = metrics::dice(predicted, truth);
    e.miou = metrics::mean_iou(predicted, truth, std::max<std::int64_t>(2, model.num_classes()));
  }
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return e;
}

bool exports(const Value& report, const std::string& format) {
  const Value* list = report.find("export");
  if (!list || list->type() != Value::Type::Array) return false;
  for (const auto& v : list->as_array())
    if (v.type() == Value::Type::String && v.as_string() == format) return true;
  return false;
}

// Everything one run holds while it goes through the grid.
struct Run {
  Run(LoadedExperiment& loaded, const CheckedExperiment& checked)
      : experiment(loaded),
        e(checked),
        plan(make_plan(checked)),
        log(host_log()),
        settings{resolve_device(checked.device), checked.seed, checked.threads, {}} {}
  LoadedExperiment& experiment;
  const CheckedExperiment& e;
  Plan plan;
  fs::path dir;
  std::shared_ptr<HostLog> log;
  ContextSettings settings;
  fs::path cache_root;
  Value report;

  std::optional<DatasetContents> data;
  std::map<std::string, torch::Tensor> splits;
  SplitData adv_train, adv_test;
  std::shared_ptr<ModelPlugin> model_plugin;
  std::optional<PreparedModel> prepared;
  std::map<std::size_t, std::shared_ptr<DifferentiableModel>> variants;
  // Outcomes of this variant's attacks, by (attack, split): detectors need both splits.
  std::map<std::pair<std::size_t, std::string>, AttackOutcome> outcomes;
  std::map<std::size_t, AttackRunInputs> attack_inputs;  // by attack index, for outcomes_variant
  std::size_t outcomes_variant = static_cast<std::size_t>(-1);

  HostContext context(const std::string& prefix = "") { return HostContext(settings, log, prefix); }

  void load_data_and_model() {
    if (prepared) return;
    load_data_and_check_it();
    const PluginUse& dataset_use = *plan.dataset;
    const PluginUse& model_use = *plan.model;
    HostContext mctx = context(model_use.plugin->name());
    ModelRequest request;
    request.model_use = &model_use;
    request.model = *e.resolved.find("model");
    request.model_version = model_use.plugin->version();
    request.dataset_identity = plugin_identity(dataset_use);
    request.seed = e.seed;
    request.base_dir = fs::absolute(experiment.file).parent_path();
    request.cache_root = cache_root;
    prepared = prepare_model(request, *data, splits, mctx);
    log->info("model: {} ({})", model_use.plugin->describe(),
              prepared->from_checkpoint ? "checkpoint " + prepared->weights_file.string()
              : prepared->from_cache    ? "cached weights " + prepared->weights_file.string()
                                        : "trained, stored in " + prepared->weights_file.string());
  }

  // Loads and splits the data set, creates the model plugin and checks what depends on
  // them (check_task); trains nothing.
  void load_data_and_check_it() {
    if (data) return;
    const PluginUse& dataset_use = *plan.dataset;
    HostContext dctx = context(dataset_use.plugin->name());
    const std::string who = dataset_use.plugin->describe();
    auto dataset = guarded(who, "create", [&] { return dataset_use.plugin->create<Dataset>(dataset_use.params, dctx); });
    log->info("loading data: {}", who);
    data = guarded(who, "load", [&] { return dataset->load(dctx); });
    check_contents(*data, who);
    const Value* split_keys = dataset_use.host_keys.find("splits");
    const SplitPlan split_plan = split_keys ? split_plan_from(*split_keys, "dataset.splits") : SplitPlan{};
    splits = make_splits(*data, split_plan, e.seed);
    adv_train = subset(*data, splits.at(kAdvTrainSplit));
    adv_test = subset(*data, splits.at(kAdvTestSplit));
    log->info("data: {} images {}x{}x{}; splits train {} val {} adv_train {} adv_test {}", data->images.size(0),
              data->images.size(1), data->images.size(2), data->images.size(3), splits.at(kTrainSplit).numel(),
              splits.at(kValSplit).numel(), adv_train.size(), adv_test.size());

    const PluginUse& model_use = *plan.model;
    HostContext mctx = context(model_use.plugin->name());
    model_plugin = guarded(model_use.plugin->describe(), "create",
                           [&] { return model_use.plugin->create<ModelPlugin>(model_use.params, mctx); });
    check_task(model_spec_for(*data, splits.at(kTrainSplit)));
  }

  // Before any model is trained: every attack handles the task and every named tap exists
  // (all problems together, exit status 2).
  void check_task(const ModelSpec& spec) {
    TaskFacts facts;
    facts.spec = spec;
    facts.model = plan.model->plugin->describe();
    auto probe = guarded(facts.model, "build", [&] { return model_plugin->build(spec); });
    if (!probe) throw PluginFailure(facts.model + " failed in build(): returned no module");
    facts.model_taps = probe->tap_names();
    const auto problems = task_problems(plan, facts, [&](const std::string& prefix) {
      return std::make_unique<HostContext>(settings, log, prefix);
    });
    if (problems.empty()) return;
    std::string message = "the experiment does not fit the data set and model:";
    for (const auto& p : problems) message += "\n  " + p;
    throw InvalidInput(message);
  }

  DifferentiableModel& variant_model(std::size_t v) { return *variant_ptr(v); }
  std::shared_ptr<DifferentiableModel> variant_ptr(std::size_t v) {
    auto it = variants.find(v);
    if (it != variants.end()) return it->second;
    load_data_and_model();
    VariantInputs in;
    in.baseline = &*prepared;
    in.model = plan.model;
    in.data = &*data;
    in.splits = &splits;
    in.registry = &experiment.registry;
    in.cache_root = cache_root;
    in.model_hash = plan.model_hash;
    const VariantPlan& variant = plan.variants[v];
    HostContext vctx = context(variant.defense ? variant.defense->plugin->name() : "");
    auto model = build_variant(variant, in, vctx);
    variants[v] = model;
    return model;
  }

  const SplitData& split_data(const std::string& split) { return split == kAdvTrain ? adv_train : adv_test; }

  // The attack of a trial with its fitted terms, made once per variant: both splits use
  // the same instance, so a universal attack fitted on adv_train is applied to adv_test.
  const AttackRunInputs& attack_inputs_for(const Trial& trial) {
    auto it = attack_inputs.find(*trial.attack);
    if (it != attack_inputs.end()) return it->second;
    const AttackPlan& a = plan.attacks[*trial.attack];
    const PluginHandle& p = *a.use->plugin;
    HostContext actx = context(p.name());
    AttackRunInputs in;
    in.plan = &a;
    in.plugin = &p;
    in.model = variant_ptr(trial.variant);
    in.attack = guarded(p.describe(), "create", [&] { return p.create<Attack>(a.use->params, actx); });
    for (const PluginUse* term_use : a.terms) {
      const PluginHandle& tp = *term_use->plugin;
      HostContext tctx = context(tp.name());
      auto term = guarded(tp.describe(), "create", [&] { return tp.create<AttackTerm>(term_use->params, tctx); });
      // Terms fit on the attacker's data: the clean adv_train images.
      const torch::Tensor& fit_labels = attack_labels(adv_train, in.model->task());
      guarded(tp.describe(), "fit", [&] { term->fit(*in.model, adv_train.images.to(settings.device), fit_labels.to(settings.device), tctx); });
      in.terms.push_back(term);
    }
    in.batch_size = e.batch_size;
    if (auto* universal = dynamic_cast<UniversalAttack*>(in.attack.get())) {
      log->info("{}: fitting the universal perturbation on adv_train ({} images)", a.section, adv_train.size());
      fit_universal(in, *universal, adv_train, actx);
    }
    return attack_inputs.emplace(*trial.attack, std::move(in)).first->second;
  }

  const AttackOutcome& attack_outcome(const Trial& trial, const std::string& split, const std::string& stage) {
    if (outcomes_variant != trial.variant) {
      outcomes.clear();
      attack_inputs.clear();
      outcomes_variant = trial.variant;
    }
    const auto key = std::make_pair(*trial.attack, split);
    auto it = outcomes.find(key);
    if (it != outcomes.end()) return it->second;
    const AttackRunInputs& in = attack_inputs_for(trial);
    HostContext actx = context(in.plugin->name());
    AttackRunInputs staged = in;
    staged.stage = stage;
    return outcomes.emplace(key, run_attack(staged, split_data(split), actx)).first->second;
  }

  std::string run_trial(const Trial& trial, const std::string& stage) {
    const DatasetMeta& meta = data->meta;
    switch (trial.kind) {
      case TrialKind::Clean: {
        auto& model = variant_model(trial.variant);
        return clean_record(plan, trial, meta, evaluate_clean(model, split_data(trial.split), e.batch_size, settings.device));
      }
      case TrialKind::Attack: {
        const AttackOutcome& o = attack_outcome(trial, trial.split, stage);
        const SplitData& split = split_data(trial.split);
        std::map<std::string, std::string> files;
        ExampleInfo examples;
        const std::int64_t columns = report.find("examples") ? report.find("examples")->as_int() : 8;
        if (columns > 0 && split.size() > 0) {
          ExampleGrid grid = make_example_grid(split.images, o.adversarial, columns);
          const std::string relative = "images/" + trial.id + ".png";
          write_png(dir / relative, grid.image);
          examples = {relative, grid.columns, grid.amplification};
          files["grid"] = relative;
        }
        if (exports(report, "npz")) {
          const std::string relative = "adversarial/" + trial.id + ".npz";
          // Segmentation: the true masks instead of labels, label maps as predictions, and
          // the target masks of a targeted attack.
          const bool segmentation = meta.task == Task::Segmentation;
          std::vector<std::pair<std::string, torch::Tensor>> arrays{
              {"clean", split.images.to(torch::kFloat)},
              {"adversarial", o.adversarial.to(torch::kFloat)},
              segmentation ? std::make_pair(std::string("masks"), split.masks.to(torch::kFloat))
                           : std::make_pair(std::string("labels"), split.labels.to(torch::kLong)),
              {"pred_clean", o.clean_prediction},
              {"pred_adversarial", o.adversarial_prediction}};
          if (segmentation && o.targets.defined()) arrays.emplace_back("targets", o.targets.to(torch::kFloat));
          write_npz(dir / relative, arrays);
          files["npz"] = relative;
        }
        return attack_record(plan, trial, meta, split, o, files, examples);
      }
      case TrialKind::Detector: {
        const AttackPlan& a = plan.attacks[*trial.attack];
        const AttackOutcome& fit = attack_outcome(trial, kAdvTrain, stage + " (attack on adv_train)");
        const AttackOutcome& test = attack_outcome(trial, kAdvTest, stage + " (attack on adv_test)");
        const DetectorPlan& d = plan.detectors[*trial.detector];
        HostContext dctx = context(d.use->plugin->name());
        DetectionOutcome detection = run_detector(d, variant_ptr(trial.variant), a, adv_train, fit, adv_test, test,
                                                  experiment.registry, e.batch_size, dctx);
        return detector_record(plan, trial, adv_test, test, detection);
      }
    }
    return "";
  }
};

}  // namespace

void check_against_data(LoadedExperiment& experiment) {
  const CheckedExperiment& e = experiment.checked;
  Run run(experiment, e);
  run.load_data_and_check_it();
}

fs::path run_experiment(LoadedExperiment& experiment, const RunOptions& options) {
  const CheckedExperiment& e = experiment.checked;
  Run run(experiment, e);
  run.dir = open_run_directory({run.plan.name, options.output, options.resume, run.plan.model_hash});
  run.report = e.resolved.find("report") ? *e.resolved.find("report") : Value(Value::Table{});

  // log.txt gets everything the terminal gets, for the record.
  const auto log_file = run.log->tee_to(run.dir / "log.txt");

  run.cache_root = default_cache_dir();
  HostContext ctx = run.context();
  apply_compute_settings(ctx, e.cuda_math);

  if (!options.resume) write_file_atomically(run.dir / "experiment.toml", read_text_file(experiment.file));
  write_file_atomically(run.dir / "resolved.json", to_json(e.resolved) + "\n");
  Manifest manifest(run.dir / "manifest.json", e, run.plan, run.settings.device, ctx.threads(), options.overrides);
  manifest.write("running");

  ResultsLog results(run.dir / "results.jsonl");
  if (results.dropped_lines() > 0)
    run.log->warn("results.jsonl: dropped {} incomplete line(s) left by an interrupted run", results.dropped_lines());
  std::size_t done = 0, skipped = 0;
  const std::size_t total = run.plan.trials.size();
  const std::string math = !run.settings.device.is_cuda()            ? ""
                           : e.cuda_math == CudaMath::Reproducible ? ", reproducible CUDA math"
                                                                   : ", fast CUDA math (TF32, autotuned)";
  run.log->info("run {}: {} trials on {} ({} threads{}){}", run.dir.string(), total, run.settings.device.str(),
                ctx.threads(), math, options.resume ? "; resuming" : "");
  for (std::size_t i = 0; i < total; ++i) {
    const Trial& trial = run.plan.trials[i];
    if (results.finished(trial.hash)) {
      ++skipped;
      continue;
    }
    run.load_data_and_model();
    const std::string stage = "[" + std::to_string(i + 1) + "/" + std::to_string(total) + "] " + trial.id;
    run.log->info("{}", stage);
    results.append(trial.hash, run.run_trial(trial, stage));
    ++done;
  }
  if (skipped > 0) run.log->info("{} trial(s) were already finished and kept", skipped);
  manifest.write("finished");

  ReportFiles report = write_report(run.dir);
  std::cout << report.tables_md << "\n";
  run.log->info("{} trial(s) run; report: {}", done, (run.dir / "report.html").string());
  return run.dir;
}

}  // namespace medadv::host
