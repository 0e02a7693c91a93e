#pragma once
// An attack term that reads one of the experiment's detectors (detector evasion, HFC
// Table 3 and the Medical Aegis paper's WB attack): the host fits the [[detector]] the
// term names as the detector stage does, on the adv_train outcome of the attack that the
// term's attack names in `detectors_fit_on` (the defender's detector, fitted before the
// adaptive attacker came), and hands it to the term before AttackTerm::fit. A term class
// derives from both AttackTerm and this; the host finds it by dynamic_cast, so terms that
// do not read a detector are unaffected.
#include <memory>
#include <string>

#include "medadv/capabilities.h"
#include "medadv/detector.h"
#include "medadv/export.h"

namespace medadv {

class MEDADV_API DetectorReadingTerm {
 public:
  virtual ~DetectorReadingTerm();
  // The `label` of the [[detector]] to read (its plugin name when it has no label).
  virtual std::string detector_label() const = 0;
  // The fitted detector and the model view to score with (the experiment's `layers`
  // applied): detector->score(*model, x) is what the detector stage scores. Its score
  // is differentiable in x (Detector::differentiable(): the host checks before training).
  virtual void use_detector(std::shared_ptr<Detector> detector, std::shared_ptr<DifferentiableModel> model) = 0;
};

}  // namespace medadv
