#pragma once
// What an attack optimises (ARCHITECTURE.md section 5): a per-sample objective to be
// maximised, the weighted sum of a base loss and any add-on terms. Targeted and
// untargeted are properties of the objective, not of each attack.
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/export.h"
#include "medadv/model.h"

namespace medadv {

class AttackTerm;

enum class BaseLoss { CrossEntropy, CWMargin, DLR };
MEDADV_API const char* base_loss_name(BaseLoss b);

class MEDADV_API Objective {
 public:
  Objective(BaseLoss base, bool targeted, double kappa = 0.0);

  void add_term(std::shared_ptr<AttackTerm> term, double weight, std::string label);

  BaseLoss base() const { return base_; }
  bool targeted() const { return targeted_; }
  double kappa() const { return kappa_; }
  // Taps the add-on terms need in every forward.
  std::vector<std::string> required_taps() const;

  // Per-sample value to maximise, [B]. `targets` is used when targeted.
  // Untargeted cross-entropy: CE(z, y); targeted: -CE(z, t).
  // CW margin: untargeted -max(z_y - max_{j!=y} z_j, -kappa); targeted
  // -max(max_{j!=t} z_j - z_t, -kappa).
  // DLR (Croce & Hein): -(z_y - max_{i!=y} z_i) / (z_pi1 - z_pi3 + 1e-12); targeted
  // -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2 + 1e-12).
  torch::Tensor evaluate(const ModelOutput& out, const torch::Tensor& x_adv,
                         const torch::Tensor& labels, const torch::Tensor& targets) const;

  // Per-sample success [B] (bool): targeted reached the target; untargeted changed the
  // prediction away from the label.
  torch::Tensor success(const torch::Tensor& logits, const torch::Tensor& labels,
                        const torch::Tensor& targets) const;

 private:
  struct Term {
    std::shared_ptr<AttackTerm> term;
    double weight;
    std::string label;
  };
  BaseLoss base_;
  bool targeted_;
  double kappa_;
  std::vector<Term> terms_;
};

// The base losses as free functions, per sample [B], for attacks and tests.
MEDADV_API torch::Tensor cross_entropy_per_sample(const torch::Tensor& logits, const torch::Tensor& y);
// z_y - max_{j != y} z_j
MEDADV_API torch::Tensor margin_per_sample(const torch::Tensor& logits, const torch::Tensor& y);
MEDADV_API torch::Tensor dlr_per_sample(const torch::Tensor& logits, const torch::Tensor& y);
MEDADV_API torch::Tensor dlr_targeted_per_sample(const torch::Tensor& logits, const torch::Tensor& y,
                                                 const torch::Tensor& t);

}  // namespace medadv
