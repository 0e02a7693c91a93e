#include "engine/detector_stage.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "engine/split_batches.h"
#include "engine/tap_subset_model.h"
#include "engine/variants.h"
#include "loader/guard.h"
#include "medadv/error.h"
#include "medadv/features.h"
#include "medadv/metrics.h"

namespace medadv::host {

std::optional<std::vector<std::string>> experiment_layers(const DetectorPlan& detector) {
  const Value* layers = detector.use->host_keys.find("layers");
  if (!layers) return std::nullopt;
  std::vector<std::string> names;
  for (const Value& layer : layers->as_array()) names.push_back(layer.as_string());
  return names;
}

std::vector<std::string> chosen_taps(const Detector& detector, const std::vector<std::string>& available,
                                     const std::string& who) {
  const auto chosen = guarded(who, "taps", [&] { return detector.taps(available); });
  // The SDK's tap check names a chosen tap that `available` lacks, with a did-you-mean.
  if (!chosen.empty()) features::select_taps(who, chosen, available);
  return chosen;
}

torch::Tensor turned_samples(const AttackPlan& attack, const SplitData& split, const AttackOutcome& outcome) {
  const torch::Tensor success = attack_successes(attack, split, outcome);
  const torch::Tensor clean_correct = outcome.clean_prediction.eq(split.labels);
  return torch::nonzero(success.logical_and(clean_correct)).flatten();
}

namespace {

// Scores of `n` images that `images(begin, end)` gives a batch at a time (on `device`).
torch::Tensor score_all(Detector& detector, DifferentiableModel& model, std::int64_t n,
                        const std::function<torch::Tensor(std::int64_t, std::int64_t)>& images,
                        std::int64_t batch_size, const std::string& who) {
  std::vector<torch::Tensor> scores;
  for (std::int64_t i = 0; i < n; i += batch_size) {
    const auto x = images(i, std::min(i + batch_size, n));
    torch::Tensor s = guarded(who, "score", [&] { return detector.score(model, x); });
    if (!s.defined() || s.dim() != 1 || s.size(0) != x.size(0))
      throw PluginFailure(who + " returned scores of shape " + (s.defined() ? c10::str(s.sizes()) : "(none)") +
                          "; expected [" + std::to_string(x.size(0)) + "]");
    scores.push_back(s.detach().to(torch::kCPU, torch::kDouble));
  }
  return scores.empty() ? torch::empty({0}, torch::kDouble) : torch::cat(scores);
}

}  // namespace

FittedDetector fit_detector(const DetectorPlan& plan, std::shared_ptr<DifferentiableModel> model,
                            const AttackPlan& fit_plan, const SplitData& fit_split, const AttackOutcome& fit_attack,
                            const PluginRegistry& registry, const std::shared_ptr<HostContext>& context) {
  HostContext& ctx = *context;
  const PluginHandle& p = *plan.use->plugin;
  const std::string who = p.describe();
  FittedDetector out;
  // `layers = [...]` in the experiment narrows the taps the detector may choose from.
  const auto layers = experiment_layers(plan);
  out.model = layers ? std::make_shared<TapSubsetModel>(model, *layers, who) : std::move(model);
  const torch::Tensor fit_index = turned_samples(fit_plan, fit_split, fit_attack);
  out.fit_samples = fit_index.numel();
  if (fit_index.numel() < 2) return out;
  auto detector = guarded(who, "create", [&] { return p.create<Detector>(plan.use->params, context); });
  chosen_taps(*detector, out.model->tap_names(), who);
  // The detector reads its fit samples a batch at a time, as it scores.
  DetectorFitData fit;
  fit.clean = rows_of(split_batches(fit_split, fit_split.labels), fit_index);
  const bool supervised = guarded(who, "supervised", [&] { return detector->supervised(); });
  if (supervised) fit.adversarial = rows_of(store_batches(*fit_attack.adversarial, fit_split.labels), fit_index);
  RegistryAttackFactory attacks(registry, context);
  guarded(who, "fit", [&] { detector->fit(*out.model, fit, ctx, &attacks); });
  out.detector = std::move(detector);
  return out;
}

DetectionOutcome run_detector(const DetectorPlan& plan, std::shared_ptr<DifferentiableModel> model,
                              const AttackPlan& fit_plan, const SplitData& fit_split, const AttackOutcome& fit_attack,
                              const AttackPlan& attack, const SplitData& test_split, const AttackOutcome& test_attack,
                              const PluginRegistry& registry, std::int64_t batch_size,
                              const std::shared_ptr<HostContext>& context) {
  HostContext& ctx = *context;
  const std::string who = plan.use->plugin->describe();
  const torch::Tensor test_index = turned_samples(attack, test_split, test_attack);
  DetectionOutcome out;
  const auto start = std::chrono::steady_clock::now();
  FittedDetector fitted;
  if (test_index.numel() >= 1)
    fitted = fit_detector(plan, std::move(model), fit_plan, fit_split, fit_attack, registry, context);
  else
    fitted.fit_samples = turned_samples(fit_plan, fit_split, fit_attack).numel();
  out.fit_samples = fitted.fit_samples;
  if (!fitted.detector) {
    ctx.log().warn("detector '" + plan.label + "' against '" + attack.label + "': '" + fit_plan.label + "' turned " +
                   std::to_string(fitted.fit_samples) + " adv_train samples and '" + attack.label + "' " +
                   std::to_string(test_index.numel()) +
                   " adv_test samples; too few to fit and score, so its metrics are left empty");
    out.scores = torch::empty({0}, torch::kDouble);
    out.is_adversarial = torch::empty({0}, torch::kBool);
    return out;
  }
  Detector& detector = *fitted.detector;
  DifferentiableModel& scored = *fitted.model;
  const c10::Device device = ctx.device();

  const std::int64_t n = test_index.numel();
  const torch::Tensor clean_scores =
      score_all(detector, scored, n, [&](std::int64_t b, std::int64_t e) {
        return test_split.images_at(test_index.slice(0, b, e), device);
      }, batch_size, who);
  const torch::Tensor adversarial_scores =
      score_all(detector, scored, n, [&](std::int64_t b, std::int64_t e) {
        return test_attack.adversarial->gather(test_index.slice(0, b, e)).to(device);
      }, batch_size, who);
  out.scores = torch::cat({clean_scores, adversarial_scores});
  out.is_adversarial = torch::cat({torch::zeros({clean_scores.size(0)}, torch::kBool),
                                   torch::ones({adversarial_scores.size(0)}, torch::kBool)});
  if (!torch::isfinite(out.scores).all().item<bool>())
    throw PluginFailure(who + " returned non-finite scores (NaN or infinity)");
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace medadv::host
