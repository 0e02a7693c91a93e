#pragma once
// Fits a detector on the adv_train split and scores the adv_test split (ARCHITECTURE.md
// section 2). Like LID and the HFC code, it uses the samples the attack turned: clean
// images classified correctly whose adversarial version succeeded, and both versions
// of them; unsupervised detectors see the clean ones only.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/attack_stage.h"
#include "common/host_context.h"
#include "experiment/plan.h"
#include "loader/registry.h"
#include "medadv/detector.h"

namespace medadv::host {

struct DetectionOutcome {
  torch::Tensor scores;          // [2M] float64 on the CPU: M clean then M adversarial
  torch::Tensor is_adversarial;  // [2M] bool
  std::int64_t fit_samples = 0;  // turned samples of adv_train the detector was fitted on
  double seconds = 0.0;
};

// The experiment's `layers = [...]` for a detector (validated: a non-empty list of tap
// names), or nothing when it does not narrow the detector's taps.
std::optional<std::vector<std::string>> experiment_layers(const DetectorPlan& detector);

// The taps `detector` chooses (Detector::taps) from `available`, the model's taps or the
// experiment's `layers`, each checked to be among them (features::select_taps):
// InvalidInput naming the tap otherwise. The detector stage asks it; the check before
// training (engine/task_check.h) asks a fresh instance the same way.
std::vector<std::string> chosen_taps(const Detector& detector, const std::vector<std::string>& available,
                                     const std::string& who);

// Indices of the samples an attack turned (see above), int64 on the CPU.
torch::Tensor turned_samples(const AttackPlan& attack, const SplitData& split, const AttackOutcome& outcome);

// A detector fitted as the detector stage fits it, and the view of the model it scores with.
struct FittedDetector {
  std::shared_ptr<Detector> detector;          // null when the attack turned fewer than 2 samples
  std::shared_ptr<DifferentiableModel> model;  // the experiment's `layers` applied
  std::int64_t fit_samples = 0;                // turned samples of adv_train it was fitted on
};

// Creates `detector` and fits it on the samples `fit_plan` turned on adv_train (both
// versions for a supervised detector), read a batch at a time.
FittedDetector fit_detector(const DetectorPlan& detector, std::shared_ptr<DifferentiableModel> model,
                            const AttackPlan& fit_plan, const SplitData& fit_split, const AttackOutcome& fit_attack,
                            const PluginRegistry& registry, const std::shared_ptr<HostContext>& context);

// The detector is fitted on `fit_plan`'s outcome on adv_train (the attack itself, or the
// one its `detectors_fit_on` names) and scored on `attack`'s outcome on adv_test.
DetectionOutcome run_detector(const DetectorPlan& detector, std::shared_ptr<DifferentiableModel> model,
                              const AttackPlan& fit_plan, const SplitData& fit_split, const AttackOutcome& fit_attack,
                              const AttackPlan& attack, const SplitData& test_split, const AttackOutcome& test_attack,
                              const PluginRegistry& registry, std::int64_t batch_size,
                              const std::shared_ptr<HostContext>& context);

}  // namespace medadv::host
