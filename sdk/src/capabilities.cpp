#include "medadv/capabilities.h"

namespace medadv {

DifferentiableModel::~DifferentiableModel() = default;
bool DifferentiableModel::randomized() const { return false; }
ExpectationOverDraws::~ExpectationOverDraws() = default;

ModuleModel::ModuleModel(std::shared_ptr<TappedModule> module, std::int64_t num_classes, Task task)
    : module_(std::move(module)), num_classes_(num_classes), task_(task) {
  // An attacked model is frozen: inference-mode layers (BatchNorm statistics, dropout)
  // and no gradients for the weights, only for the input.
  module_->eval();
  for (auto& p : module_->parameters()) p.requires_grad_(false);
}
ModuleModel::~ModuleModel() = default;

ModelOutput ModuleModel::forward(const torch::Tensor& x, const std::vector<std::string>& taps) {
  return module_->forward_taps(x, taps);
}
std::vector<std::string> ModuleModel::tap_names() const { return module_->tap_names(); }

Oracle::~Oracle() = default;

Capability Capability::make(ThreatModel threat_model, std::shared_ptr<DifferentiableModel> model,
                            std::shared_ptr<Oracle> oracle) {
  Capability c;
  c.threat_model_ = threat_model;
  c.model_ = std::move(model);
  c.oracle_ = std::move(oracle);
  return c;
}
Capability Capability::white_box(std::shared_ptr<DifferentiableModel> victim) { return make(ThreatModel::WhiteBox, std::move(victim), nullptr); }
Capability Capability::gray_box(std::shared_ptr<DifferentiableModel> surrogate) { return make(ThreatModel::GrayBox, std::move(surrogate), nullptr); }
Capability Capability::black_box(std::shared_ptr<Oracle> oracle) { return make(ThreatModel::BlackBox, nullptr, std::move(oracle)); }
Capability Capability::no_box(std::shared_ptr<DifferentiableModel> surrogate) { return make(ThreatModel::NoBox, std::move(surrogate), nullptr); }

namespace {
[[noreturn]] void refuse(ThreatModel declared, const char* wanted) {
  throw CapabilityError(std::string("a ") + threat_model_name(declared) + " attack has no access to " + wanted);
}
}  // namespace

DifferentiableModel& Capability::gradient_model() const {
  if (!model_) refuse(threat_model_, "gradients of any model");
  return *model_;
}
DifferentiableModel& Capability::victim() const {
  if (threat_model_ != ThreatModel::WhiteBox || !model_) refuse(threat_model_, "the victim's gradients");
  return *model_;
}
DifferentiableModel& Capability::surrogate() const {
  if ((threat_model_ != ThreatModel::GrayBox && threat_model_ != ThreatModel::NoBox) || !model_)
    refuse(threat_model_, "a surrogate model");
  return *model_;
}
Oracle& Capability::oracle() const {
  if (threat_model_ != ThreatModel::BlackBox || !oracle_) refuse(threat_model_, "a query oracle");
  return *oracle_;
}

}  // namespace medadv
