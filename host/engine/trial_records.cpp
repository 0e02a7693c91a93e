#include "engine/trial_records.h"

#include <algorithm>
#include <cmath>

#include "common/json.h"
#include "medadv/metrics.h"
#include "medadv/objective.h"

namespace medadv::host {

namespace {

void identity(JsonWriter& json, const Plan& plan, const Trial& trial) {
  json.key("trial").value(trial.id);
  json.key("hash").value(trial.hash);
  json.key("kind").value(trial_kind_name(trial.kind));
  json.key("variant").value(plan.variants[trial.variant].label);
  if (trial.attack) {
    const AttackPlan& a = plan.attacks[*trial.attack];
    json.key("attack").value(a.label);
    json.key("attack_plugin").value(a.use->plugin->name());
    json.key("epsilon").value(a.epsilon);
    json.key("epsilon_text").value(a.epsilon_text);
    json.key("targeted").value(a.objective.targeted);
  }
  json.key("split").value(trial.split);
}

double mean_of(const torch::Tensor& t) { return t.numel() ? t.to(torch::kDouble).mean().item<double>() : NAN; }

// As metrics::mean_psnr, from the per-sample values: the mean over the changed images,
// infinity when none changed.
double mean_psnr(const torch::Tensor& per_sample) {
  if (per_sample.numel() == 0) return NAN;
  const auto finite = per_sample.masked_select(torch::isfinite(per_sample));
  return finite.numel() ? finite.mean().item<double>() : INFINITY;
}

void int_array(JsonWriter& json, const torch::Tensor& t) {
  json.begin_array();
  auto c = t.to(torch::kLong).contiguous();
  for (std::int64_t i = 0; i < c.numel(); ++i) json.value(c.data_ptr<std::int64_t>()[i]);
  json.end_array();
}

// Segmentation outcomes carry label maps [N,1,H,W] as predictions, classification ones
// class indices [N].
bool is_segmentation(const AttackOutcome& o) { return o.clean_prediction.dim() > 1; }

// True masks as label maps, as the clean evaluation reads them.
torch::Tensor true_label_maps(const SplitData& split) { return split.masks.to(torch::kLong); }

double attack_success_rate(const AttackPlan& a, const SplitData& split, const AttackOutcome& o) {
  if (is_segmentation(o))
    return segmentation_attack_success_rate(o.clean_prediction, o.adversarial_prediction, true_label_maps(split),
                                            a.objective.targeted ? o.targets : torch::Tensor());
  const torch::Tensor& y = split.labels;
  return a.objective.targeted
             ? metrics::attack_success_rate_targeted(o.adversarial_prediction, y, o.targets)
             : metrics::attack_success_rate_untargeted(o.clean_prediction, o.adversarial_prediction, y);
}

// Mean share of the pixels predicted as foreground (nonzero).
double foreground_share(const torch::Tensor& label_maps) {
  return label_maps.numel() ? label_maps.ne(0).to(torch::kDouble).mean().item<double>() : NAN;
}

// Dice and mIoU of the clean and adversarial predictions against the true masks, the
// predicted foreground area before and after, and for a targeted attack the Dice of the
// adversarial prediction with the target mask.
void segmentation_metrics(JsonWriter& json, const AttackPlan& a, const SplitData& split, const AttackOutcome& o) {
  const torch::Tensor truth = true_label_maps(split);
  const std::int64_t classes = std::max<std::int64_t>(2, o.num_classes);
  const bool any = split.size() > 0;
  json.key("clean_dice").value(metrics::dice(o.clean_prediction, truth));
  json.key("adversarial_dice").value(metrics::dice(o.adversarial_prediction, truth));
  json.key("clean_miou").value(any ? metrics::mean_iou(o.clean_prediction, truth, classes) : NAN);
  json.key("adversarial_miou").value(any ? metrics::mean_iou(o.adversarial_prediction, truth, classes) : NAN);
  json.key("attack_success_rate").value(attack_success_rate(a, split, o));
  if (a.objective.targeted && o.targets.defined())
    json.key("target_dice").value(metrics::dice(o.adversarial_prediction, o.targets.round().to(torch::kLong)));
  json.key("clean_foreground").value(foreground_share(o.clean_prediction));
  json.key("adversarial_foreground").value(foreground_share(o.adversarial_prediction));
}

// Clean and robust accuracy within each true class ("robust_accuracy.class1"): an
// attack that turns one class entirely and leaves another alone shows here, not in the
// overall figures. One entry per class of the attacked model.
void per_class_metrics(JsonWriter& json, const torch::Tensor& y, const AttackOutcome& o) {
  const auto clean = metrics::per_class_accuracy(o.clean_prediction, y, o.num_classes);
  const auto robust = metrics::per_class_accuracy(o.adversarial_prediction, y, o.num_classes);
  for (std::size_t k = 0; k < clean.size(); ++k) {
    json.key("clean_accuracy.class" + std::to_string(k)).value(clean[k]);
    json.key("robust_accuracy.class" + std::to_string(k)).value(robust[k]);
  }
}

}  // namespace

std::string clean_record(const Plan& plan, const Trial& trial, const DatasetMeta& meta, const CleanEvaluation& e) {
  JsonWriter json;
  json.begin_object();
  identity(json, plan, trial);
  json.key("n").value(e.n);
  if (meta.task == Task::Classification) {
    json.key("clean_accuracy").value(e.accuracy);
  } else {
    json.key("clean_dice").value(e.dice);
    json.key("clean_miou").value(e.miou);
  }
  json.key("wall_time_s").value(e.seconds);
  json.key("images_per_second").value(metrics::images_per_second(e.n, e.seconds));
  json.end_object();
  return json.str();
}

std::string attack_record(const Plan& plan, const Trial& trial, const DatasetMeta& meta, const SplitData& split,
                          const AttackOutcome& o, const std::map<std::string, std::string>& files,
                          const ExampleInfo& examples) {
  const AttackPlan& a = plan.attacks[*trial.attack];
  const torch::Tensor& y = split.labels;
  JsonWriter json;
  json.begin_object();
  identity(json, plan, trial);
  json.key("n").value(split.size());
  const bool segmentation = is_segmentation(o);
  if (segmentation) {
    segmentation_metrics(json, a, split, o);
  } else {
    json.key("clean_accuracy").value(metrics::accuracy(o.clean_prediction, y));
    json.key("robust_accuracy").value(metrics::robust_accuracy(o.adversarial_prediction, y));
    json.key("attack_success_rate").value(attack_success_rate(a, split, o));
    json.key("adversarial_confidence")
        .value(o.adversarial_probability.defined()
                   ? metrics::adversarial_confidence(o.adversarial_probability, attack_successes(a, split, o))
                   : NAN);
    per_class_metrics(json, y, o);
  }
  if (!o.surrogate.empty()) {
    // Crafted on a surrogate: the figures above are the transfer to the scored model.
    json.key("surrogate").value(o.surrogate);
    if (!segmentation) json.key("surrogate_robust_accuracy").value(metrics::robust_accuracy(o.surrogate_prediction, y));
  }
  json.key("linf").value(mean_of(o.linf));
  json.key("linf_max").value(split.size() ? o.linf.max().item<double>() : NAN);
  json.key("l2").value(mean_of(o.l2));
  json.key("l0").value(mean_of(o.l0));
  json.key("psnr").value(mean_psnr(o.psnr));
  json.key("ssim").value(mean_of(o.ssim));
  json.key("iterations").value(mean_of(o.iterations));
  json.key("queries_per_sample").value(mean_of(o.queries));
  json.key("wall_time_s").value(o.seconds);
  json.key("images_per_second").value(metrics::images_per_second(split.size(), o.seconds));
  // The add-on terms' own figures, e.g. stress.block2.relative_change.
  for (const auto& [name, value] : o.term_figures) json.key(name).value(value);
  json.key("files").begin_object();
  for (const auto& [k, v] : files) json.key(k).value(v);
  json.end_object();
  if (!examples.grid.empty()) {
    const std::int64_t c = examples.columns;
    json.key("examples").begin_object();
    json.key("columns").value(c);
    json.key("amplification").value(examples.amplification);
    json.key("rows").begin_array();
    json.value("clean");
    json.value("perturbation x" + std::to_string(static_cast<long long>(std::lround(examples.amplification))));
    json.value("adversarial");
    json.end_array();
    if (!segmentation) {  // captions under the columns; masks do not fit one
      json.key("labels");
      int_array(json, y.slice(0, 0, c));
      json.key("pred_clean");
      int_array(json, o.clean_prediction.slice(0, 0, c));
      json.key("pred_adversarial");
      int_array(json, o.adversarial_prediction.slice(0, 0, c));
      json.key("class_names").begin_array();
      for (const auto& name : meta.class_names) json.value(name);
      json.end_array();
    }
    json.end_object();
  }
  json.end_object();
  return json.str();
}

std::string detector_record(const Plan& plan, const Trial& trial, const SplitData& test_split,
                            const AttackOutcome& test_attack, const DetectionOutcome& d) {
  const AttackPlan& a = plan.attacks[*trial.attack];
  const DetectorPlan& det = plan.detectors[*trial.detector];
  JsonWriter json;
  json.begin_object();
  identity(json, plan, trial);
  json.key("detector").value(det.label);
  json.key("detector_plugin").value(det.use->plugin->name());
  if (a.detectors_fit_on) json.key("detectors_fit_on").value(plan.attacks[*a.detectors_fit_on].label);
  json.key("n").value(d.scores.numel());
  json.key("fit_samples").value(d.fit_samples);
  const bool scored = d.scores.numel() > 0;
  json.key("auc").value(scored ? metrics::roc_auc(d.scores, d.is_adversarial) : NAN);
  json.key("tpr@90").value(scored ? metrics::tpr_at_tnr(d.scores, d.is_adversarial, 0.90) : NAN);
  json.key("detection_accuracy").value(scored ? metrics::detection_accuracy(d.scores, d.is_adversarial) : NAN);
  json.key("attack_success_rate").value(attack_success_rate(a, test_split, test_attack));
  json.key("wall_time_s").value(d.seconds);
  if (scored) {
    // At most ~100 points: enough to draw the curve, small enough for one line.
    const auto roc = metrics::roc_curve(d.scores, d.is_adversarial);
    const std::int64_t m = roc.fpr.numel(), stride = std::max<std::int64_t>(1, m / 100);
    json.key("roc").begin_object();
    for (const char* which : {"fpr", "tpr"}) {
      const torch::Tensor& t = std::string(which) == "fpr" ? roc.fpr : roc.tpr;
      json.key(which).begin_array();
      for (std::int64_t i = 0; i < m; i += stride) json.value(t[i].item<double>());
      if ((m - 1) % stride != 0) json.value(t[m - 1].item<double>());
      json.end_array();
    }
    json.end_object();
  }
  json.end_object();
  return json.str();
}

}  // namespace medadv::host
