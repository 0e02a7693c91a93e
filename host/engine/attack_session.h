#pragma once
// One attack against one model variant: the attack and its `add` terms made and fitted
// once (each term on its fit split, by default the training split; a universal
// perturbation on adv_train),
// then run on each split at most once. Both splits share the instance, so a universal
// attack fitted on adv_train is the one applied to adv_test; detectors read both
// outcomes.
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/host_context.h"
#include "engine/attack_stage.h"
#include "engine/data_stage.h"
#include "engine/detector_stage.h"
#include "engine/surrogate.h"

namespace medadv::host {

// Fitted attack terms of one model variant by AttackPlan::term_fit_keys: an HFC term that
// several attacks add is fitted once.
using FittedTerms = std::map<std::string, std::shared_ptr<AttackTerm>>;

// Fits the [[detector]] labelled `label` for a term that reads it (medadv/detector_term.h),
// with the features of `model` (the model the attack is crafted on), as the detector stage
// fits it: on the adv_train outcome of the attack's `detectors_fit_on`. A detector left
// unfitted (too few turned samples) is an error there.
using DetectorFitter =
    std::function<FittedDetector(const std::string& label, std::shared_ptr<DifferentiableModel> model)>;

class AttackSession {
 public:
  // Adversarial images too large for memory are kept in `spill_dir` (the run directory).
  // Terms are taken from `fitted` when there, else fitted and added to it. With a
  // `surrogate`, the attack and its terms are crafted on it and scored on `model`
  // (AttackRunInputs::surrogate); a term fitted on "train" reads the surrogate's training split.
  AttackSession(const AttackPlan& plan, std::shared_ptr<DifferentiableModel> model,
                const PreparedSurrogate* surrogate, const LoadedData& data, std::int64_t batch_size,
                const std::filesystem::path& spill_dir, FittedTerms& fitted, const DetectorFitter& fit_detector_for,
                const ContextFactory& contexts);

  // The attack's outcome on `split` (adv_train or adv_test), run the first time it is asked.
  const AttackOutcome& outcome(const std::string& split, const std::string& stage);

 private:
  AttackRunInputs inputs_;
  const LoadedData& data_;
  const ContextFactory& contexts_;
  std::map<std::string, AttackOutcome> outcomes_;
};

}  // namespace medadv::host
