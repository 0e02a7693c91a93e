#include "engine/data_stage.h"

#include <algorithm>
#include <vector>

#include "engine/held_source.h"
#include "engine/surrogate.h"
#include "engine/task_check.h"
#include "experiment/train_keys.h"
#include "loader/guard.h"
#include "medadv/error.h"
#include "medadv/splits.h"
#include "train/model_provider.h"

namespace medadv::host {

// The split's labels and masks (uint8: masks are 0/1); its images stay in the source,
// read a batch at a time.
SplitData split_data(const std::shared_ptr<DataSource>& source, const torch::Tensor& index) {
  SplitData s;
  s.samples = SampleSet(source, index);
  s.labels = s.samples.labels();
  if (source->has_masks()) {
    constexpr std::int64_t kBatch = 256;
    std::vector<torch::Tensor> masks;
    for (std::int64_t i = 0; i < s.size(); i += kBatch)
      masks.push_back(s.samples.slice(i, std::min(i + kBatch, s.size()), torch::kCPU).masks.gt(0.5).to(torch::kUInt8));
    s.masks = masks.empty()
                  ? torch::empty({0, 1, source->item_shape()[1], source->item_shape()[2]}, torch::kUInt8)
                  : torch::cat(masks);
  }
  return s;
}

namespace {

void check_source(const DataSource& d, const std::string& who) {
  auto fail = [&](const std::string& m) { throw PluginFailure(who + " opened a data set that " + m); };
  const auto n = d.size();
  if (n < 1) fail("is empty");
  if (d.item_shape().size() != 3) fail("has no [C,H,W] items");
  const auto labels = d.labels();
  if (d.meta().task == Task::Classification && (!labels.defined() || labels.dim() != 1 || labels.size(0) != n))
    fail("has no labels [N] for its " + std::to_string(n) + " images");
  if (d.meta().task == Task::Segmentation && !d.has_masks())
    fail("has no masks for its " + std::to_string(n) + " images");
}

// Before any model is trained: every attack handles the task and every named tap exists
// (all problems together).
// The taps of an untrained `use` built for `spec`.
ModelTaps probe_taps(const PluginUse& use, const ModelSpec& spec, const ContextFactory& contexts) {
  ModelTaps out;
  out.model = use.plugin->describe();
  auto plugin = guarded(out.model, "create", [&] {
    return use.plugin->create<ModelPlugin>(use.params, contexts(use.plugin->name()));
  });
  auto probe = guarded(out.model, "build", [&] { return plugin->build(spec); });
  if (!probe) throw PluginFailure(out.model + " failed in build(): returned no module");
  out.taps = probe->tap_names();
  return out;
}

void check_task(const Plan& plan, const ModelSpec& spec, const ContextFactory& contexts) {
  TaskFacts facts;
  facts.spec = spec;
  ModelTaps victim = probe_taps(*plan.model, spec, contexts);
  facts.model = victim.model;
  facts.model_taps = victim.taps;
  for (const AttackPlan& a : plan.attacks)
    if (a.surrogate && !facts.surrogates.count(a.section)) {
      ModelTaps surrogate = probe_taps(*a.surrogate->use, spec, contexts);
      surrogate.model = "the surrogate " + surrogate.model;
      facts.surrogates.emplace(a.section, std::move(surrogate));
    }
  const auto problems = task_problems(plan, facts, contexts);
  if (problems.empty()) return;
  std::string message = "the experiment does not fit the data set and model:";
  for (const auto& p : problems) message += "\n  " + p;
  throw InvalidInput(message);
}

struct OpenedData {
  std::shared_ptr<DataSource> source;
  std::map<std::string, torch::Tensor> splits;
  MemoryEstimate memory;
};

OpenedData open_data(const Plan& plan, std::uint64_t seed, std::int64_t batch_size, const ContextFactory& contexts) {
  const PluginUse& dataset_use = *plan.dataset;
  const std::string who = dataset_use.plugin->describe();
  auto dataset_context = contexts(dataset_use.plugin->name());
  auto dataset = guarded(who, "create", [&] { return dataset_use.plugin->create<Dataset>(dataset_use.params, dataset_context); });
  contexts.log().info("opening data: {}", who);
  auto opened = guarded(who, "open", [&] { return dataset->open(*dataset_context); });
  if (!opened) throw PluginFailure(who + " returned no data source from open()");
  OpenedData data;
  data.source = hold_source(std::move(opened), who);
  check_source(*data.source, who);
  const Value* split_keys = dataset_use.host_keys.find("splits");
  const SplitPlan split_plan = split_keys ? split_plan_from(*split_keys, "dataset.splits") : SplitPlan{};
  data.splits = make_splits(*data.source, split_plan, seed);
  // The larger of the attacks' batch and the training's (an upper bound when the weights
  // come from the cache and nothing is trained).
  const Value* train = plan.model->host_keys.find("train");
  const std::int64_t train_batch =
      model_train_schema().resolve_or_throw(train ? *train : Value(Value::Table{}), "", "model.train.").get_int("batch_size");
  data.memory = estimate_memory(*data.source, data.splits, std::max(batch_size, train_batch), !plan.detectors.empty(),
                                available_memory_bytes());
  return data;
}

}  // namespace

const SplitData& LoadedData::split(const std::string& name) const {
  return name == kAdvTrainSplit ? adv_train : adv_test;
}

MemoryEstimate estimate_run_memory(const Plan& plan, std::uint64_t seed, std::int64_t batch_size,
                                   const ContextFactory& contexts) {
  return open_data(plan, seed, batch_size, contexts).memory;
}

LoadedData load_data(const Plan& plan, std::uint64_t seed, std::int64_t batch_size, const ContextFactory& contexts) {
  OpenedData opened = open_data(plan, seed, batch_size, contexts);
  contexts.log().info(opened.memory.describe());
  require_memory(opened.memory);
  LoadedData data;
  data.source = std::move(opened.source);
  data.splits = std::move(opened.splits);
  const auto shape = data.source->item_shape();
  contexts.log().info("data: {} images {}x{}x{} stored as {}; splits train {} val {} adv_train {} adv_test {}",
                      data.source->size(), shape[0], shape[1], shape[2], c10::toString(data.source->stored_dtype()),
                      data.splits.at(kTrainSplit).numel(), data.splits.at(kValSplit).numel(),
                      data.splits.at(kAdvTrainSplit).numel(), data.splits.at(kAdvTestSplit).numel());
  // The probe model's taps do not depend on the input moments: no image is read for it.
  ModelSpec probe_spec = model_shape_for(*data.source);
  probe_spec.mean.assign(static_cast<std::size_t>(probe_spec.channels), 0.0);
  probe_spec.std.assign(static_cast<std::size_t>(probe_spec.channels), 1.0);
  check_task(plan, probe_spec, contexts);
  // A surrogate on the unused share needs one, found before the victim trains.
  for (const AttackPlan& a : plan.attacks)
    if (a.surrogate) surrogate_splits(*a.surrogate, a.section, *data.source, data.splits);
  data.adv_train = split_data(data.source, data.splits.at(kAdvTrainSplit));
  data.adv_test = split_data(data.source, data.splits.at(kAdvTestSplit));
  return data;
}

}  // namespace medadv::host
