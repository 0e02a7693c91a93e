// `medadv train`: the "train or load" stage of an experiment on its own.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "cli/experiment_loading.h"
#include "common/logging.h"
#include "common/host_context.h"
#include "engine/held_source.h"
#include "loader/guard.h"
#include "medadv/device.h"
#include "medadv/plugin.h"
#include "medadv/splits.h"
#include "medadv/training.h"
#include "train/model_provider.h"
#include "experiment/train_keys.h"

namespace medadv::host {

namespace {

// `section` is a literal: a std::string parameter would be a temporary at every call, and
// GCC 13 takes the returned reference for one into it (-Wdangling-reference).
const PluginUse& use_of(const CheckedExperiment& e, const char* section) {
  for (const auto& use : e.uses)
    if (use.section == section) return use;
  throw Error("the validated experiment has no [" + std::string(section) + "]");
}

std::string metrics_line(const char* split, const EvalMetrics& m) {
  std::string line = std::string(split) + ":";
  char buffer[64];
  auto add = [&](const char* name, double v) {
    if (std::isnan(v)) return;
    std::snprintf(buffer, sizeof buffer, " %s %.4f", name, v);
    line += buffer;
  };
  add("accuracy", m.accuracy);
  add("auc", m.auc);
  add("dice", m.dice);
  return line + " (n=" + std::to_string(m.samples) + ")";
}

// A checkpoint that is not there is invalid input, found before any data is generated.
void require_checkpoint_file(const Value& model, const std::filesystem::path& experiment_dir) {
  const auto checkpoint = checkpoint_path(model, experiment_dir);
  if (checkpoint.empty() || std::filesystem::is_regular_file(checkpoint)) return;
  throw ValidationError({Diagnostic{model.find("checkpoint")->where(), "model.checkpoint", "",
                                    "no such file: " + checkpoint.lexically_normal().string() +
                                        " (a relative path is relative to the experiment file)"}});
}

void declare_train_options(po::options_description& o, po::positional_options_description& p) {
  declare_experiment_options(o, p);
  o.add_options()("force", "train again (and replace the cached weights) even when cached weights exist");
}

int execute_train(const po::variables_map& vm, const GlobalOptions& g) {
  auto loaded = load_experiment(vm, g);
  const auto& e = loaded->checked;
  const Value& model_section = *e.resolved.find("model");
  const Value& dataset_section = *e.resolved.find("dataset");
  const auto experiment_dir = std::filesystem::absolute(loaded->file).parent_path();
  require_checkpoint_file(model_section, experiment_dir);
  const PluginUse& dataset_use = use_of(e, "dataset");
  const PluginUse& model_use = use_of(e, "model");

  auto log = host_log();
  const ContextFactory contexts({resolve_device(e.device), e.seed, e.threads, {}}, log);
  apply_compute_settings(*contexts(), e.cuda_math);

  auto dataset_ctx = contexts(dataset_use.plugin->name());
  auto dataset = dataset_use.plugin->create<Dataset>(dataset_use.params, dataset_ctx);
  auto opened = guarded(dataset_use.plugin->describe(), "open", [&] { return dataset->open(*dataset_ctx); });
  if (!opened) throw PluginFailure(dataset_use.plugin->describe() + " returned no data source from open()");
  const auto data = hold_source(std::move(opened), dataset_use.plugin->describe());
  const SplitPlan plan = split_plan_from(*dataset_section.find("splits"), "dataset.splits");
  const auto splits = make_splits(*data, plan, e.seed);
  log->info("splits: train {}, val {}, test {} (adv_train {}, adv_test {})", splits.at(kTrainSplit).numel(),
            splits.at(kValSplit).numel(), splits.at(kTestSplit).numel(), splits.at(kAdvTrainSplit).numel(),
            splits.at(kAdvTestSplit).numel());

  ModelRequest request = model_request(e, model_use, dataset_use, loaded->file, default_cache_dir(),
                                       contexts(model_use.plugin->name()));
  request.force_training = vm.count("force") > 0;
  auto train_ctx = contexts("train");
  const PreparedModel prepared = prepare_model(request, data, splits, *train_ctx);

  const EvalMetrics test_metrics =
      evaluate_model(*prepared.module, SampleSet(data, splits.at(kTestSplit)), prepared.spec, *train_ctx,
                     prepared.evaluation_batch);
  const char* source = prepared.from_checkpoint ? "checkpoint"
                       : prepared.as_built      ? "as built"
                       : prepared.from_cache    ? "cached"
                                                : "trained";
  std::cout << "model: " << model_use.plugin->name() << " (" << source << ") "
            << (prepared.as_built ? prepared.built_weights : prepared.weights_file.lexically_normal().string())
            << "\n"
            << metrics_line("val", prepared.report.val) << "\n"
            << metrics_line("test", test_metrics) << "\n";
  return kExitOk;
}

}  // namespace

Command train_command() { return {"train", declare_train_options, execute_train}; }

}  // namespace medadv::host
