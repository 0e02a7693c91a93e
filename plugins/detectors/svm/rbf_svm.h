#pragma once
// A binary RBF-kernel C-SVM trained by libsvm (Debian's libsvm-dev) and evaluated in
// LibTorch. Training is libsvm's own (SMO, and with `probability` its Platt scaling fitted
// by internal 5-fold cross-validation, as `svm-train -t 2 -c C -g gamma -b 1`); the
// trained model is then held as tensors (support vectors, coefficients, rho, Platt's A
// and B), so decision values and probabilities are computed on any device, batched, and
// differentiable in the features: detector-evasion attacks can take gradients through
// them. Both reproduce `svm-predict -b 1` (tests/plugins/test_svm_detector.cpp).
//
// libsvm is used only in rbf_svm.cpp, so this header needs nothing but LibTorch.
#include <cstdint>

#include <torch/torch.h>

namespace medadv::plugins::svm {

struct RbfSvmOptions {
  double c = 1.0;
  // K(u, v) = exp(-gamma ||u - v||^2); 0 stands for "scale" (scale_gamma).
  double gamma = 0.0;
  // Fit Platt scaling (libsvm's -b 1).
  bool probability = true;
  // libsvm shuffles the data for the cross-validation of Platt scaling with the C
  // library's rand(); fit() seeds it with srand(shuffle_seed) first. svm-train never
  // seeds it, which is the same as seed 1.
  unsigned shuffle_seed = 1;
  // libsvm's stopping tolerance (-e) and kernel cache in MB (-m), at svm-train's defaults.
  double tolerance = 1e-3;
  double cache_mb = 100.0;
};

// sklearn's gamma = "scale" (the SafetyNet setting): 1 / (d * var(X)) with var the
// population variance over all elements of the fit matrix X [N, d]; 1.0 when X is
// constant (sklearn's choice too).
double scale_gamma(const torch::Tensor& features);

class RbfSvm {
 public:
  // `features` [N, D] floating (any device; copied to the CPU in float64 for libsvm),
  // `positive` [N] bool or 0/1. Rows keep their order (it matters for libsvm's
  // shuffles). Throws InvalidInput unless both classes occur.
  static RbfSvm fit(const torch::Tensor& features, const torch::Tensor& positive, const RbfSvmOptions& options);

  // Decision value per row [B], float64 on the features' device: positive on the
  // positive side. libsvm's own value up to sign (libsvm's is positive for the class it
  // saw first).
  torch::Tensor decision(const torch::Tensor& features) const;
  // libsvm's probability estimate of the positive class (svm_predict_probability, which
  // for two classes is Platt's sigmoid clamped to [1e-7, 1 - 1e-7]: P(first class) =
  // 1 / (1 + exp(A f + B)), the other class 1 - that), [B] float64 on the features'
  // device. Throws InvalidInput when fitted without `probability`.
  torch::Tensor probability(const torch::Tensor& features) const;

  // The fitted model, for tests and logs (float64, on the device of the last to()).
  double gamma() const { return gamma_; }
  std::int64_t support_vector_count() const { return support_vectors_.size(0); }
  const torch::Tensor& support_vectors() const { return support_vectors_; }  // [S, D]
  const torch::Tensor& coefficients() const { return coefficients_; }        // [S], libsvm's sv_coef
  double rho() const { return rho_; }                                        // libsvm's rho
  bool has_probability() const { return has_probability_; }
  double prob_a() const { return prob_a_; }  // Platt: P(first class) = 1 / (1 + exp(A f + B))
  double prob_b() const { return prob_b_; }
  bool positive_first() const { return positive_first_; }  // libsvm's label[0] is the positive class

  // Moves the model's tensors (scoring then runs there).
  void to(c10::Device device);

 private:
  // libsvm's decision value sum_i coef_i K(sv_i, x) - rho (positive for the first class).
  torch::Tensor libsvm_decision(const torch::Tensor& features) const;

  double gamma_ = 0.0;
  torch::Tensor support_vectors_, support_norms_, coefficients_;
  double rho_ = 0.0;
  bool has_probability_ = false;
  double prob_a_ = 0.0, prob_b_ = 0.0;
  bool positive_first_ = true;
};

}  // namespace medadv::plugins::svm
