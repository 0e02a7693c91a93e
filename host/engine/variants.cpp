#include "engine/variants.h"

#include "common/canonical_json.h"
#include "common/sha256.h"
#include "engine/defended_model.h"
#include "loader/guard.h"
#include "common/json.h"
#include "medadv/defense.h"
#include "medadv/error.h"
#include "medadv/splits.h"

namespace medadv::host {

std::shared_ptr<Attack> RegistryAttackFactory::make(const std::string& plugin, const Value& params) {
  const PluginHandle& p = registry_.require(Kind::Attack, plugin);
  Params resolved = p.schema().resolve_or_throw(params, p.name());
  return guarded(p.describe(), "create", [&] { return p.create<Attack>(resolved, context_); });
}

namespace {

std::shared_ptr<DifferentiableModel> trained_variant(const VariantPlan& variant, const VariantInputs& in,
                                                     const std::shared_ptr<HostContext>& context) {
  HostContext& ctx = *context;
  const PluginUse& use = *variant.defense;
  const PluginHandle& p = *use.plugin;
  const ModelSpec& spec = in.baseline->spec;
  std::shared_ptr<TappedModule> module = build_fresh_module(*in.model, in.model_context, spec, ctx);

  const std::string key = sha256_hex("medadv-trained-variant/2\n" + in.model_hash + "\n" + p.name() + " " +
                                     p.version() + " " + canonical_json(use.params.to_value()));
  const std::filesystem::path file = in.cache_root / "models" / (key + ".pt");
  if (std::filesystem::exists(file)) {
    load_weights(*module, file, ctx.device());
    ctx.log().info("defense '" + variant.label + "': cached weights " + file.string());
  } else {
    const auto& s = *in.splits;
    TrainingSet set;
    set.train = SampleSet(in.data, s.at(kTrainSplit));
    set.val = SampleSet(in.data, s.at(kValSplit));
    set.spec = spec;
    auto trainer = guarded(p.describe(), "create", [&] { return p.create<Trainer>(use.params, context); });
    RegistryAttackFactory attacks(*in.registry, context);
    module->train();
    guarded(p.describe(), "train", [&] { trainer->train(*module, set, attacks, ctx); });
    module->eval();
    std::filesystem::create_directories(file.parent_path());
    save_weights(*module, file);
  }
  return std::make_shared<ModuleModel>(module, spec.num_classes, spec.task);
}

}  // namespace

std::shared_ptr<DifferentiableModel> build_variant(const VariantPlan& variant, const VariantInputs& in,
                                                   const std::shared_ptr<HostContext>& ctx) {
  const ModelSpec& spec = in.baseline->spec;
  auto baseline = std::make_shared<ModuleModel>(in.baseline->module, spec.num_classes, spec.task);
  if (!variant.defense) return baseline;
  const PluginUse& use = *variant.defense;
  const PluginHandle& p = *use.plugin;
  switch (p.kind()) {
    case Kind::Preprocessor: {
      auto preprocessor = guarded(p.describe(), "create", [&] { return p.create<Preprocessor>(use.params, ctx); });
      return std::make_shared<PreprocessedModel>(baseline, preprocessor, p.describe());
    }
    case Kind::Wrapper: {
      auto wrapper = guarded(p.describe(), "create", [&] { return p.create<Wrapper>(use.params, ctx); });
      auto wrapped = guarded(p.describe(), "wrap", [&] { return wrapper->wrap(baseline, *ctx); });
      if (!wrapped) throw PluginFailure(p.describe() + " returned no model from wrap()");
      // The wrapped model may use the wrapper's state: the wrapper lives as long as it.
      return std::shared_ptr<DifferentiableModel>(wrapped.get(), [wrapped, wrapper](DifferentiableModel*) {});
    }
    case Kind::Trainer: return trained_variant(variant, in, ctx);
    default: throw Error(use.section + ": " + p.describe() + " is not a defense");
  }
}

}  // namespace medadv::host
