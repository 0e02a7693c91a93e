// Out-of-line key functions of the plugin interfaces, so that every module loaded
// RTLD_LOCAL shares one vtable and typeinfo for each (ARCHITECTURE.md section 3).
#include "medadv/attack.h"
#include "medadv/attack_term.h"
#include "medadv/dataset.h"
#include "medadv/defense.h"
#include "medadv/detector.h"
#include "medadv/detector_term.h"

#include <utility>

namespace medadv {

Attack::~Attack() = default;
void Attack::check_task(const ModelSpec&) const {}
UniversalAttack::~UniversalAttack() = default;
AttackFactory::~AttackFactory() = default;
AttackTerm::~AttackTerm() = default;
void AttackTerm::begin_batch(DifferentiableModel&, const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                             RunContext&) {}
std::map<std::string, double> AttackTerm::summarize(DifferentiableModel&, const ImageBatches&, const ImageBatches&,
                                                    std::int64_t, RunContext&) {
  return {};
}
Preprocessor::~Preprocessor() = default;
RandomizedPreprocessor::~RandomizedPreprocessor() = default;
Trainer::~Trainer() = default;
Wrapper::~Wrapper() = default;
Detector::~Detector() = default;
DetectorReadingTerm::~DetectorReadingTerm() = default;
Dataset::~Dataset() = default;

torch::Tensor Preprocessor::backward_approximation(const torch::Tensor& x) { return x; }

torch::Tensor bpda(Preprocessor& p, const torch::Tensor& x) {
  torch::Tensor forward;
  {
    torch::NoGradGuard no_grad;
    forward = p.transform(x.detach());
  }
  const torch::Tensor approx = p.backward_approximation(x);
  return approx + (forward - approx).detach();
}

bool Detector::differentiable() const { return false; }

DetectorFitData detector_fit_data(torch::Tensor clean, torch::Tensor labels, torch::Tensor adversarial) {
  DetectorFitData data;
  data.clean = tensor_batches(clean, labels);
  if (adversarial.defined()) data.adversarial = tensor_batches(std::move(adversarial), std::move(labels));
  return data;
}

}  // namespace medadv
