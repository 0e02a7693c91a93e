#include "engine/attack_stage.h"

#include <chrono>
#include <limits>

#include "engine/counting_oracle.h"
#include "engine/split_batches.h"
#include "loader/guard.h"
#include "medadv/error.h"
#include "medadv/metrics.h"
#include "medadv/torch_compat.h"

namespace medadv::host {

namespace {

// What the attack is handed: a counting oracle over the scored model (black-box), or the
// model it is crafted on (crafted_on: the scored model, its EOT view, or a surrogate),
// under the threat model the surrogate stands for; validation pairs a gray-box or no-box
// plugin with a surrogate.
Capability capability_for(const PluginHandle& plugin, const Params& params, const AttackRunInputs& in,
                          std::shared_ptr<CountingOracle>& oracle) {
  const std::shared_ptr<DifferentiableModel>& crafted = in.crafted_on();
  switch (plugin.threat_model()) {
    case ThreatModel::WhiteBox:
      return in.surrogate && in.surrogate_threat != ThreatModel::WhiteBox ? Capability::gray_box(crafted)
                                                                          : Capability::white_box(crafted);
    case ThreatModel::BlackBox: {
      // The budget is the attack's own `max_queries` parameter when it declares one.
      const std::int64_t budget = params.has("max_queries") ? params.get_int("max_queries")
                                                            : std::numeric_limits<std::int64_t>::max();
      const bool labels_only = params.has("labels_only") && params.get_bool("labels_only");
      oracle = std::make_shared<CountingOracle>(in.model, budget, labels_only);
      return Capability::black_box(oracle);
    }
    case ThreatModel::GrayBox:
    case ThreatModel::NoBox:
      if (in.surrogate)
        return plugin.threat_model() == ThreatModel::NoBox ? Capability::no_box(crafted) : Capability::gray_box(crafted);
      [[fallthrough]];
    default:
      throw InvalidInput(plugin.describe() + " is a " + threat_model_name(plugin.threat_model()) +
                         " attack: it needs a surrogate model; give it one with [attack.surrogate]");
  }
}

}  // namespace

torch::Tensor SplitData::images(std::int64_t begin, std::int64_t end, c10::Device device) const {
  return samples.slice(begin, end, device).images;
}

torch::Tensor SplitData::images_at(const torch::Tensor& rows, c10::Device device) const {
  return samples.gather(rows, device).images;
}

torch::Tensor predict(DifferentiableModel& model, const SplitData& split, std::int64_t batch_size, c10::Device device) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (std::int64_t i = 0; i < split.size(); i += batch_size)
    out.push_back(model.logits(split.images(i, std::min(i + batch_size, split.size()), device)).argmax(1).to(torch::kCPU));
  return out.empty() ? torch::empty({0}, torch::kLong) : torch::cat(out);
}

torch::Tensor predictions_from_logits(const torch::Tensor& logits) {
  if (logits.dim() <= 2) return logits.argmax(1).cpu();
  const auto maps = metrics::label_map_from_logits(logits);
  return (logits.size(1) <= 256 ? maps.to(torch::kByte) : maps).cpu();
}

torch::Tensor attack_successes(const AttackPlan& attack, const SplitData& split, const AttackOutcome& outcome) {
  return attack.objective.targeted
             ? metrics::per_sample_success_targeted(outcome.adversarial_prediction, split.labels, outcome.targets)
             : metrics::per_sample_success_untargeted(outcome.clean_prediction, outcome.adversarial_prediction,
                                                      split.labels);
}

const torch::Tensor& attack_labels(const SplitData& split, Task task) {
  return task == Task::Segmentation ? split.masks : split.labels;
}

torch::Tensor attack_label_rows(const SplitData& split, Task task, std::int64_t begin, std::int64_t end,
                                c10::Device device) {
  if (task == Task::Segmentation) return split.masks.slice(0, begin, end).to(device, torch::kFloat);
  return split.labels.slice(0, begin, end).to(device);
}

torch::Tensor segmentation_targets(const TargetChoice& choice, const torch::Tensor& masks) {
  using Rule = TargetChoice::Rule;
  // Targets live on the device of the split they are for, as choose_targets' do.
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(masks.device());
  switch (choice.rule) {
    case Rule::Empty: return torch::zeros(masks.sizes(), options);
    case Rule::Full: return torch::ones(masks.sizes(), options);
    case Rule::MaskFile:
      return target_mask_from_file(choice.mask_file, masks.size(2), masks.size(3))
          .to(masks.device())
          .expand(masks.sizes())
          .contiguous();
    default:
      throw InvalidInput("target \"" + target_text(choice) + "\" is a classification target; a segmentation "
                         "target is \"empty\", \"full\" or a PNG mask file");
  }
}

torch::Tensor choose_targets(const TargetChoice& choice, const torch::Tensor& labels,
                             const torch::Tensor& least_likely, std::int64_t num_classes, std::uint64_t seed) {
  using Rule = TargetChoice::Rule;
  switch (choice.rule) {
    case Rule::Next: return (labels + 1).remainder(num_classes);
    case Rule::LeastLikely: return least_likely.to(labels.device()).clone();
    case Rule::Fixed:
      if (choice.fixed_class >= num_classes)
        throw InvalidInput("target class " + std::to_string(choice.fixed_class) + " does not exist: the model has " +
                           std::to_string(num_classes) + " classes (0.." + std::to_string(num_classes - 1) + ")");
      return torch::full_like(labels, choice.fixed_class);
    case Rule::Random: {
      // A class other than the label: label + uniform offset in [1, K-1].
      auto generator = compat::cpu_generator(seed);
      // Drawn on the CPU, so that a seed gives the same targets on every device.
      auto offset = torch::randint(1, std::max<std::int64_t>(2, num_classes), labels.sizes(), generator,
                                   torch::TensorOptions().dtype(torch::kLong));
      return (labels + offset.to(labels.device())).remainder(num_classes);
    }
    case Rule::Empty:
    case Rule::Full:
    case Rule::MaskFile:
      throw InvalidInput("target \"" + target_text(choice) + "\" is a segmentation target (a mask); a classifier's "
                         "target is \"random\", \"least-likely\", \"next\" or a class index");
  }
  return labels;
}

Objective make_objective(const AttackRunInputs& in) {
  const AttackPlan& plan = *in.plan;
  Objective objective(plan.objective.loss, plan.objective.targeted, plan.objective.kappa);
  for (std::size_t t = 0; t < in.terms.size(); ++t)
    objective.add_term(in.terms[t], plan.term_weights[t], plan.terms[t]->label);
  return objective;
}

void check_attack_task(const AttackPlan& plan, const Attack& attack, const ModelSpec& task) {
  const ObjectiveSpec& o = plan.objective;
  const std::string loss = std::string("loss = \"") + base_loss_name(o.loss) + "\"";
  if (task.task == Task::Segmentation) {
    if (is_classification_loss(o.loss))
      throw InvalidInput(plan.section + ".loss: " + loss + " is a classification loss; a segmentation model is "
                         "attacked with loss = \"bce\", \"iou\" or \"dice\" (or \"none\" with `add` terms)");
    if (o.targeted && !is_segmentation_target(o.target))
      throw InvalidInput(plan.section + ".target: \"" + target_text(o.target) + "\" is a classification target; a "
                         "segmentation attack targets a mask: target = \"empty\", \"full\" or a PNG mask file");
  } else {
    if (is_segmentation_loss(o.loss))
      throw InvalidInput(plan.section + ".loss: " + loss + " is a segmentation loss; a classifier is attacked with "
                         "loss = \"ce\", \"cw\" or \"dlr\"");
    if (o.targeted && is_segmentation_target(o.target))
      throw InvalidInput(plan.section + ".target: \"" + target_text(o.target) + "\" is a segmentation target (a "
                         "mask); a classifier's target is \"random\", \"least-likely\", \"next\" or a class index");
    if (o.targeted && o.target.rule == TargetChoice::Rule::Fixed && o.target.fixed_class >= task.num_classes)
      throw InvalidInput(plan.section + ".target: class " + std::to_string(o.target.fixed_class) +
                         " does not exist: the data set has " + std::to_string(task.num_classes) + " classes (0 to " +
                         std::to_string(task.num_classes - 1) + ")");
  }
  if (o.targeted && (o.loss == BaseLoss::SoftIoU || o.loss == BaseLoss::SoftDice) && is_segmentation_target(o.target)) {
    // Towards an empty mask there is no overlap to grow: the soft IoU and Dice losses are
    // constant (1) and the attack would not move.
    const bool empty = o.target.rule == TargetChoice::Rule::Empty ||
                       (o.target.rule == TargetChoice::Rule::MaskFile &&
                        target_mask_from_file(o.target.mask_file, task.image_size, task.image_size).sum().item<double>() == 0);
    if (empty)
      throw InvalidInput(plan.section + ".loss: " + loss + " towards an empty target mask is constant (there is no "
                         "overlap to grow), so the attack could not move; use loss = \"bce\" for an empty target");
  }
  if (o.loss == BaseLoss::None && plan.terms.empty())
    throw InvalidInput(plan.section + ".loss: loss = \"none\" leaves nothing to optimise without `add` terms, e.g. "
                       "add = [{ plugin = \"feature-stress\", tap = \"penultimate\" }]");
  if (plan.objective.loss == BaseLoss::DLR) {
    const std::int64_t needed = plan.objective.targeted ? 4 : 3;
    if (task.num_classes < needed)
      throw InvalidInput(plan.section + ".loss: the " + std::string(plan.objective.targeted ? "targeted " : "") +
                         "DLR loss needs " + std::to_string(needed) + " classes or more; this task has " +
                         std::to_string(task.num_classes) + " (use loss = \"cw\", the CW margin)");
  }
  attack.check_task(task);
}

CleanPass clean_pass(const AttackRunInputs& in, const SplitData& split, RunContext& ctx) {
  const AttackPlan& plan = *in.plan;
  const c10::Device device = ctx.device();
  const std::int64_t n = split.size();
  CleanPass out;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> predictions, least_likely;
  const bool own_least_likely = in.surrogate && plan.objective.targeted &&
                                plan.objective.target.rule == TargetChoice::Rule::LeastLikely;
  for (std::int64_t i = 0; i < n; i += in.batch_size) {
    const auto images = split.images(i, std::min(i + in.batch_size, n), device);
    auto logits = in.model->logits(images);
    predictions.push_back(predictions_from_logits(logits));
    // The attacker's least likely class: a gray-box attacker never sees the victim's logits.
    if (own_least_likely) least_likely.push_back(in.surrogate->logits(images).argmin(1));
    else if (logits.dim() == 2) least_likely.push_back(logits.argmin(1));
  }
  out.prediction = predictions.empty() ? torch::empty({0}, torch::kLong) : torch::cat(predictions);
  if (plan.objective.targeted && in.model->task() == Task::Segmentation)
    out.targets = segmentation_targets(plan.objective.target, split.masks);
  else if (plan.objective.targeted)
    out.targets = choose_targets(plan.objective.target, split.labels,
                                 least_likely.empty() ? out.prediction : torch::cat(least_likely),
                                 in.model->num_classes(), ctx.seed_for("targets/" + plan.section + "/" + std::to_string(n)));
  return out;
}

void fit_universal(const AttackRunInputs& in, UniversalAttack& attack, const SplitData& split, RunContext& ctx) {
  const PluginHandle& plugin = *in.plugin;
  const Objective objective = make_objective(in);
  const CleanPass clean = clean_pass(in, split, ctx);
  std::shared_ptr<CountingOracle> oracle;
  Capability capability = capability_for(plugin, in.plan->use->params, in, oracle);
  if (oracle) oracle->reset(split.size());
  guarded(plugin.describe(), "fit", [&] {
    attack.fit(*split_batches(split, attack_labels(split, in.model->task())), clean.targets, in.batch_size, capability,
               objective, ctx);
  });
}

AttackOutcome run_attack(const AttackRunInputs& in, const SplitData& split, RunContext& ctx) {
  const AttackPlan& plan = *in.plan;
  const PluginHandle& plugin = *in.plugin;
  const c10::Device device = ctx.device();
  DifferentiableModel& model = *in.model;
  const std::int64_t n = split.size();
  const Objective objective = make_objective(in);

  AttackOutcome out;
  // Clean predictions and, for targeted attacks, the targets: fixed before the attack runs.
  CleanPass clean = clean_pass(in, split, ctx);
  out.clean_prediction = clean.prediction;
  out.targets = clean.targets;

  auto adversarial = std::make_shared<ImageStore>(n, split.samples.source()->item_shape(), in.spill_dir,
                                                  in.store_memory_bytes);
  if (adversarial->spilled())
    ctx.log().info(in.stage + ": adversarial images (" + std::to_string(adversarial->bytes() >> 20) +
                   " MB) kept in an unnamed file in " + in.spill_dir.string());
  std::vector<torch::Tensor> predictions, surrogate_predictions, probabilities, iterations, queries, linf, l2, l0, psnr,
      ssim;
  ctx.progress().begin(in.stage + " (images)", n);
  double attack_seconds = 0.0;
  for (std::int64_t i = 0; i < n; i += in.batch_size) {
    const std::int64_t end = std::min(i + in.batch_size, n);
    const torch::Tensor clean_images = split.images(i, end, device);
    AttackBatch batch{clean_images, attack_label_rows(split, model.task(), i, end, device),
                      out.targets.defined() ? out.targets.slice(0, i, end).to(device) : torch::Tensor()};
    std::shared_ptr<CountingOracle> oracle;
    Capability capability = capability_for(plugin, plan.use->params, in, oracle);
    if (oracle) oracle->reset(end - i);
    const auto t0 = std::chrono::steady_clock::now();
    guarded(plugin.describe(), "begin_batch",
            [&] { objective.begin_batch(*in.crafted_on(), batch.images, batch.labels, batch.targets, ctx); });
    AttackResult r = guarded(plugin.describe(), "run", [&] { return in.attack->run(batch, capability, objective, ctx); });
    if (!r.adversarial.defined() || r.adversarial.sizes() != batch.images.sizes())
      throw PluginFailure(plugin.describe() + " returned adversarial images of shape " +
                          (r.adversarial.defined() ? c10::str(r.adversarial.sizes()) : std::string("(none)")) +
                          "; expected " + c10::str(batch.images.sizes()));
    auto x_adv = r.adversarial.detach();
    // Once per batch, not per step: NaN images would pass for misclassified ones.
    if (!torch::isfinite(x_adv).all().item<bool>())
      throw PluginFailure(plugin.describe() + " (" + plan.section + ") returned adversarial images holding NaN or "
                          "infinite values (batch of images " + std::to_string(i) + " to " + std::to_string(end - 1) + ")");
    if (device.is_cuda()) torch::cuda::synchronize();
    attack_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    {
      torch::NoGradGuard no_grad;
      const torch::Tensor logits = model.logits(x_adv);
      predictions.push_back(predictions_from_logits(logits));
      if (logits.dim() == 2) probabilities.push_back(metrics::predicted_class_probability(logits));
      if (in.surrogate) surrogate_predictions.push_back(predictions_from_logits(in.surrogate->logits(x_adv)));
    }
    adversarial->write(i, x_adv);
    linf.push_back(metrics::linf_norm(clean_images, x_adv).cpu());
    l2.push_back(metrics::l2_norm(clean_images, x_adv).cpu());
    l0.push_back(metrics::l0_norm(clean_images, x_adv).cpu());
    psnr.push_back(metrics::psnr_per_sample(clean_images, x_adv));
    ssim.push_back(metrics::ssim_per_sample(clean_images, x_adv));
    const auto batch_n = end - i;
    iterations.push_back(r.iterations.defined() ? r.iterations.to(torch::kCPU, torch::kLong)
                                                : torch::zeros({batch_n}, torch::kLong));
    torch::Tensor used = oracle ? oracle->queries() : r.queries;
    queries.push_back(used.defined() ? used.to(torch::kCPU, torch::kLong) : torch::zeros({batch_n}, torch::kLong));
    ctx.progress().advance(batch_n);
  }
  ctx.progress().end();
  out.adversarial = adversarial;
  auto joined = [](const std::vector<torch::Tensor>& parts, torch::ScalarType empty_type) {
    return parts.empty() ? torch::empty({0}, empty_type) : torch::cat(parts);
  };
  out.linf = joined(linf, torch::kFloat);
  out.l2 = joined(l2, torch::kFloat);
  out.l0 = joined(l0, torch::kFloat);
  out.psnr = joined(psnr, torch::kDouble);
  out.ssim = joined(ssim, torch::kDouble);
  out.adversarial_prediction = predictions.empty() ? torch::empty({0}, torch::kLong) : torch::cat(predictions);
  if (in.surrogate) {
    out.surrogate_prediction = joined(surrogate_predictions, torch::kLong);
    out.surrogate = in.surrogate_description;
  }
  if (model.task() == Task::Classification)
    out.adversarial_probability = probabilities.empty() ? torch::empty({0}, torch::kDouble) : torch::cat(probabilities);
  out.iterations = iterations.empty() ? torch::empty({0}, torch::kLong) : torch::cat(iterations);
  out.queries = queries.empty() ? torch::empty({0}, torch::kLong) : torch::cat(queries);
  out.seconds = attack_seconds;
  out.num_classes = model.num_classes();
  // The terms' own figures (the stress test's activations before and after).
  const auto labels = attack_labels(split, model.task());
  const auto clean_batches = split_batches(split, labels);
  const auto adversarial_batches = store_batches(*adversarial, labels);
  for (std::size_t t = 0; t < in.terms.size(); ++t) {
    const PluginHandle& term_plugin = *plan.terms[t]->plugin;
    const auto figures = guarded(term_plugin.describe(), "summarize", [&] {
      return in.terms[t]->summarize(*in.crafted_on(), *clean_batches, *adversarial_batches, in.batch_size, ctx);
    });
    for (const auto& [name, value] : figures) out.term_figures.emplace_back(name, value);
  }
  return out;
}

}  // namespace medadv::host
