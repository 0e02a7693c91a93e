#pragma once
// The trial grid of a validated experiment (ARCHITECTURE.md section 6): variants
// (baseline + each defense) x attacks (x budgets) x the adv_train / adv_test splits,
// plus a clean evaluation per variant and split, plus detectors fitted on adv_train and
// scored on adv_test. Planning runs nothing: it only names and hashes trials.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "experiment/attack_keys.h"
#include "experiment/experiment_check.h"

namespace medadv::host {

struct VariantPlan {
  std::string label;                   // "baseline" or the defense's label
  const PluginUse* defense = nullptr;  // null for the baseline
};

// The model a gray-box or transfer attack is crafted on ([attack.surrogate]): trained by
// the host like the victim, on `split` with its own seed; the attack never touches the victim.
struct SurrogatePlan {
  const PluginUse* use = nullptr;  // section "attack[i].surrogate": model plugin, parameters, train
  std::string split;               // kSurrogateTrainSplit or kSurrogateDisjointSplit
  std::uint64_t seed = 0;
};

struct AttackPlan {
  std::string label;         // the [[attack]] label
  std::string section;       // "attack[2]"
  const PluginUse* use = nullptr;
  std::vector<const PluginUse*> terms;  // its `add` terms, in order
  std::vector<double> term_weights;
  std::vector<std::string> term_fit_splits;  // the split each term fits on: "train" or "adv_train"
  // What determines each term's fit (plugin, parameters, fit split): terms with equal keys
  // share one fitted instance within a model variant.
  std::vector<std::string> term_fit_keys;
  ObjectiveSpec objective;
  std::optional<SurrogatePlan> surrogate;
  // On a preprocessing or wrapper defense: through it (BPDA) or crafted on the undefended
  // model; EOT draws on a randomised one (0: not given). attack_defense_schema().
  bool bpda = true;
  std::int64_t eot = 0;
  // The attack (index into Plan::attacks, at the same budget) whose adv_train outcome fits
  // this attack's detectors (`detectors_fit_on`); unset: this attack's own.
  std::optional<std::size_t> detectors_fit_on;
  double epsilon = 0.0;      // NaN when the attack has no epsilon parameter
  std::string epsilon_text;  // "8/255", or "" without one
};

struct DetectorPlan {
  std::string label;
  const PluginUse* use = nullptr;
};

enum class TrialKind { Clean, Attack, Detector };
const char* trial_kind_name(TrialKind k);

struct Trial {
  std::string id;  // "baseline__PGD__8_255__adv_test": unique, safe as a file name
  TrialKind kind = TrialKind::Clean;
  std::size_t variant = 0;
  std::optional<std::size_t> attack;
  std::optional<std::size_t> detector;
  std::string split;
  // Hash of everything that determines the trial's result: changing a parameter changes
  // exactly the trials that depend on it.
  std::string hash;
};

struct Plan {
  std::string name;
  std::uint64_t seed = 0;
  const PluginUse* dataset = nullptr;
  const PluginUse* model = nullptr;
  std::vector<VariantPlan> variants;
  std::vector<AttackPlan> attacks;
  std::vector<DetectorPlan> detectors;
  std::vector<Trial> trials;  // in execution order
  // Hash of what determines the data and the baseline weights.
  std::string model_hash;
};

// Throws ValidationError for duplicate labels (tables would be ambiguous).
Plan make_plan(const CheckedExperiment& experiment);

// "8/255" -> "8_255": a label or budget as a file-name-safe fragment.
std::string file_safe(const std::string& text);

// Forward and backward passes per image a trial costs, from the attack's parameters
// (steps x restarts; 1 for single-step attacks), for --dry-run's estimate.
struct TrialCost {
  std::int64_t forward = 0;
  std::int64_t backward = 0;
};
TrialCost cost_per_image(const Plan& plan, const Trial& trial);

// The grid as text: one line per trial, then the totals (for --dry-run).
std::string describe_plan(const Plan& plan, std::int64_t adv_train_images, std::int64_t adv_test_images);

}  // namespace medadv::host
