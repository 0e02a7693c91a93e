#include "engine/data_stage.h"

#include "engine/task_check.h"
#include "loader/guard.h"
#include "medadv/error.h"
#include "medadv/splits.h"
#include "train/model_provider.h"

namespace medadv::host {

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

// Before any model is trained: every attack handles the task and every named tap exists
// (all problems together).
void check_task(const Plan& plan, const ModelSpec& spec, const ContextFactory& contexts) {
  TaskFacts facts;
  facts.spec = spec;
  const PluginUse& model_use = *plan.model;
  facts.model = model_use.plugin->describe();
  auto model_plugin = guarded(facts.model, "create", [&] {
    return model_use.plugin->create<ModelPlugin>(model_use.params, contexts(model_use.plugin->name()));
  });
  auto probe = guarded(facts.model, "build", [&] { return model_plugin->build(spec); });
  if (!probe) throw PluginFailure(facts.model + " failed in build(): returned no module");
  facts.model_taps = probe->tap_names();
  const auto problems = task_problems(plan, facts, contexts);
  if (problems.empty()) return;
  std::string message = "the experiment does not fit the data set and model:";
  for (const auto& p : problems) message += "\n  " + p;
  throw InvalidInput(message);
}

}  // namespace

const SplitData& LoadedData::split(const std::string& name) const {
  return name == kAdvTrainSplit ? adv_train : adv_test;
}

LoadedData load_data(const Plan& plan, std::uint64_t seed, const ContextFactory& contexts) {
  const PluginUse& dataset_use = *plan.dataset;
  const std::string who = dataset_use.plugin->describe();
  auto dataset_context = contexts(dataset_use.plugin->name());
  auto dataset = guarded(who, "create", [&] { return dataset_use.plugin->create<Dataset>(dataset_use.params, dataset_context); });
  contexts.log().info("loading data: {}", who);
  LoadedData data;
  data.contents = guarded(who, "load", [&] { return dataset->load(*dataset_context); });
  check_contents(data.contents, who);
  const Value* split_keys = dataset_use.host_keys.find("splits");
  const SplitPlan split_plan = split_keys ? split_plan_from(*split_keys, "dataset.splits") : SplitPlan{};
  data.splits = make_splits(data.contents, split_plan, seed);
  data.adv_train = subset(data.contents, data.splits.at(kAdvTrainSplit));
  data.adv_test = subset(data.contents, data.splits.at(kAdvTestSplit));
  const auto& images = data.contents.images;
  contexts.log().info("data: {} images {}x{}x{}; splits train {} val {} adv_train {} adv_test {}", images.size(0),
                      images.size(1), images.size(2), images.size(3), data.splits.at(kTrainSplit).numel(),
                      data.splits.at(kValSplit).numel(), data.adv_train.size(), data.adv_test.size());

  check_task(plan, model_spec_for(data.contents, data.splits.at(kTrainSplit)), contexts);
  return data;
}

}  // namespace medadv::host
