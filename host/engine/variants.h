#pragma once
// Model variants: the undefended baseline and one per [[defense]] (a preprocessor seen
// through BPDA, a wrapper, or a robust model from a trainer), each as the
// DifferentiableModel that attacks and detectors get.
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "common/host_context.h"
#include "experiment/plan.h"
#include "loader/registry.h"
#include "medadv/attack.h"
#include "medadv/capabilities.h"
#include "medadv/dataset.h"
#include "train/model_provider.h"

namespace medadv::host {

// Attacks by plugin name, for trainers and adversarially trained detectors.
class RegistryAttackFactory : public AttackFactory {
 public:
  // Every attack made owns `context` (PluginHandle::create).
  RegistryAttackFactory(const PluginRegistry& registry, std::shared_ptr<RunContext> context)
      : registry_(registry), context_(std::move(context)) {}
  // `params` is validated against the attack's schema (InvalidInput naming the key).
  std::shared_ptr<Attack> make(const std::string& plugin, const Value& params) override;

 private:
  const PluginRegistry& registry_;
  std::shared_ptr<RunContext> context_;
};

struct VariantInputs {
  const PreparedModel* baseline = nullptr;
  const PluginUse* model = nullptr;  // the [model] use: a trained variant builds its own module from it
  std::shared_ptr<RunContext> model_context;  // what the [model] plugin's instances are created with
  std::shared_ptr<DataSource> data;
  const std::map<std::string, torch::Tensor>* splits = nullptr;
  const PluginRegistry* registry = nullptr;
  std::filesystem::path cache_root;
  std::string model_hash;  // Plan::model_hash: trained variants are cached under it
};

std::shared_ptr<DifferentiableModel> build_variant(const VariantPlan& variant, const VariantInputs& in,
                                                   const std::shared_ptr<HostContext>& ctx);

}  // namespace medadv::host
