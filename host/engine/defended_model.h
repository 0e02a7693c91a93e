#pragma once
// A model variant seen through a preprocessing defense: forward applies the transform,
// backward the defense's approximation (BPDA), so white-box attacks see the defended
// model as ARCHITECTURE.md section 4 says.
#include <memory>
#include <string>

#include "medadv/capabilities.h"
#include "medadv/defense.h"

namespace medadv::host {

class PreprocessedModel : public DifferentiableModel {
 public:
  PreprocessedModel(std::shared_ptr<DifferentiableModel> model, std::shared_ptr<Preprocessor> preprocessor,
                    std::string who);
  ModelOutput forward(const torch::Tensor& x, const std::vector<std::string>& taps) override;
  std::vector<std::string> tap_names() const override { return model_->tap_names(); }
  std::int64_t num_classes() const override { return model_->num_classes(); }
  Task task() const override { return model_->task(); }
  // Randomised when the model is or the preprocessor draws (RandomizedPreprocessor).
  bool randomized() const override;

 private:
  std::shared_ptr<DifferentiableModel> model_;
  std::shared_ptr<Preprocessor> preprocessor_;
  std::string who_;  // for the guard's messages
};

// A randomised variant as an attack with `eot = N` sees it (ExpectationOverDraws): its
// forward averages N draws' predictions (and tap features); the white-box kit averages N
// draws' gradients through one_draw().
class ExpectationModel : public DifferentiableModel, public ExpectationOverDraws {
 public:
  ExpectationModel(std::shared_ptr<DifferentiableModel> model, std::int64_t draws);
  ModelOutput forward(const torch::Tensor& x, const std::vector<std::string>& taps) override;
  std::vector<std::string> tap_names() const override { return model_->tap_names(); }
  std::int64_t num_classes() const override { return model_->num_classes(); }
  Task task() const override { return model_->task(); }
  bool randomized() const override { return true; }
  std::int64_t draws() const override { return draws_; }
  DifferentiableModel& one_draw() override { return *model_; }

 private:
  std::shared_ptr<DifferentiableModel> model_;
  std::int64_t draws_;
};

}  // namespace medadv::host
