#include "engine/attack_session.h"

#include "engine/held_source.h"
#include "loader/guard.h"

namespace medadv::host {

AttackSession::AttackSession(const AttackPlan& plan, std::shared_ptr<DifferentiableModel> model,
                             const LoadedData& data, std::int64_t batch_size, const std::filesystem::path& spill_dir,
                             const ContextFactory& contexts)
    : data_(data), contexts_(contexts) {
  const PluginHandle& p = *plan.use->plugin;
  inputs_.plan = &plan;
  inputs_.plugin = &p;
  inputs_.model = std::move(model);
  inputs_.batch_size = batch_size;
  inputs_.spill_dir = spill_dir;
  inputs_.store_memory_bytes = image_store_memory_bytes(available_memory_bytes());
  inputs_.attack = guarded(p.describe(), "create", [&] { return p.create<Attack>(plan.use->params, contexts(p.name())); });
  // Terms fit on the attacker's data: the clean adv_train images.
  const c10::Device device = contexts.settings().device;
  const torch::Tensor fit_images = plan.terms.empty() ? torch::Tensor() : data.adv_train.all_images(device);
  const torch::Tensor fit_labels = attack_labels(data.adv_train, inputs_.model->task()).to(device);
  for (const PluginUse* term_use : plan.terms) {
    const PluginHandle& tp = *term_use->plugin;
    auto term_context = contexts(tp.name());
    auto term = guarded(tp.describe(), "create", [&] { return tp.create<AttackTerm>(term_use->params, term_context); });
    guarded(tp.describe(), "fit", [&] { term->fit(*inputs_.model, fit_images, fit_labels, *term_context); });
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
