#include "engine/surrogate.h"

#include <sstream>

#include "medadv/error.h"
#include "medadv/splits.h"
#include "train/model_provider.h"

namespace medadv::host {

namespace {

// Fewer than this many unused images cannot train a surrogate worth the name.
constexpr std::int64_t kFewestDisjointImages = 10;

// The [model]-shaped table of the surrogate: its plugin, train, checkpoint and parameters
// (without `split` and `seed`, which the request carries apart).
Value surrogate_model_table(const PluginUse& use) {
  Value::Table t;
  for (const auto& [k, v] : use.host_keys.as_table())
    if (k != "split" && k != "seed") t.emplace_back(k, v);
  Value parameters = use.params.to_value();
  for (auto& entry : parameters.as_table()) t.push_back(std::move(entry));
  return Value(std::move(t));
}

}  // namespace

std::map<std::string, torch::Tensor> surrogate_splits(const SurrogatePlan& surrogate, const std::string& attack_section,
                                                      const DataSource& source,
                                                      const std::map<std::string, torch::Tensor>& victim_splits) {
  if (surrogate.split == kSurrogateTrainSplit)
    return {{kTrainSplit, victim_splits.at(kTrainSplit)}, {kValSplit, victim_splits.at(kValSplit)}};
  auto unused = torch::ones({source.size()}, torch::kBool);
  for (const char* split : {kTrainSplit, kValSplit, kAdvTrainSplit, kAdvTestSplit})
    unused.index_fill_(0, victim_splits.at(split), false);
  const auto indices = unused.nonzero().flatten();
  if (indices.numel() < kFewestDisjointImages) {
    std::ostringstream m;
    m << attack_section << ".surrogate.split: \"disjoint\" trains the surrogate on the images that dataset.splits "
      << "leaves unused, and it leaves " << indices.numel() << " of " << source.size()
      << "; give the victim's splits a smaller share, e.g. splits = { train = 0.4, adv_train = 0.14, adv_test = 0.06 } "
         "leaves 0.4 of the data to the surrogate";
    throw InvalidInput(m.str());
  }
  const auto labels = source.labels();
  const auto strata = source.meta().task == Task::Classification && labels.defined()
                          ? labels.index_select(0, indices)
                          : torch::zeros_like(indices);
  auto parts = stratified_partition(indices, strata, {0.9, 0.1}, surrogate.seed);
  return {{kTrainSplit, parts[0]}, {kValSplit, parts[1]}};
}

PreparedSurrogate prepare_surrogate(const LoadedExperiment& experiment, const Plan& plan, const AttackPlan& attack,
                                    const LoadedData& data, const ContextFactory& contexts) {
  const SurrogatePlan& s = *attack.surrogate;
  const PluginUse& use = *s.use;
  // Its own seed: its initial weights, data order and augmentation are not the victim's.
  ContextSettings settings = contexts.settings();
  settings.seed = s.seed;
  const ContextFactory own(settings, contexts.shared_log());

  ModelRequest request;
  request.model_use = &use;
  request.model_context = own(use.plugin->name());
  request.model = surrogate_model_table(use);
  request.model_version = use.plugin->version();
  request.dataset_identity = plugin_identity(*plan.dataset);
  request.seed = s.seed;
  request.base_dir = std::filesystem::absolute(experiment.file).parent_path();
  request.cache_root = settings.cache_dir;
  request.train_given = use.train_given;

  PreparedSurrogate out;
  out.splits = surrogate_splits(s, attack.section, *data.source, data.splits);
  contexts.log().info("{}: surrogate {} on split \"{}\" ({} training images), seed {}", attack.section,
                      use.plugin->describe(), s.split, out.splits.at(kTrainSplit).numel(), s.seed);
  auto context = own(use.plugin->name());
  const PreparedModel prepared = prepare_model(request, data.source, out.splits, *context);
  out.model = std::make_shared<ModuleModel>(prepared.module, prepared.spec.num_classes, prepared.spec.task);
  out.val = prepared.report.val;
  std::ostringstream d;
  d << use.plugin->name() << " " << use.plugin->version() << " on split \"" << s.split << "\" ("
    << out.splits.at(kTrainSplit).numel() << " images), seed " << s.seed << ", " << weights_origin(prepared);
  out.description = d.str();
  contexts.log().info("{}: surrogate ready: {}", attack.section, out.description);
  return out;
}

}  // namespace medadv::host
