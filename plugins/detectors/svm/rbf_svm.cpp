#include "rbf_svm.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <libsvm/svm.h>

#include <medadv/error.h>

namespace medadv::plugins::svm {

namespace {

void discard_libsvm_output(const char*) {}

// libsvm's sparse rows over a dense float64 matrix: every feature is written, zeros
// included, as svm-train stores the rows of a file that lists every feature.
struct LibsvmProblem {
  std::vector<svm_node> nodes;
  std::vector<svm_node*> rows;
  std::vector<double> labels;
  svm_problem problem{};

  LibsvmProblem(const torch::Tensor& features, const torch::Tensor& positive) {
    const torch::Tensor x = features.detach().to(torch::kCPU, torch::kDouble).contiguous();
    const torch::Tensor y = positive.detach().to(torch::kCPU, torch::kBool).contiguous();
    const std::int64_t n = x.size(0), d = x.size(1);
    nodes.resize(static_cast<std::size_t>(n * (d + 1)));
    rows.resize(static_cast<std::size_t>(n));
    labels.resize(static_cast<std::size_t>(n));
    const double* values = x.data_ptr<double>();
    const bool* is_positive = y.data_ptr<bool>();
    for (std::int64_t i = 0; i < n; ++i) {
      svm_node* row = &nodes[static_cast<std::size_t>(i * (d + 1))];
      for (std::int64_t j = 0; j < d; ++j) row[j] = svm_node{static_cast<int>(j + 1), values[i * d + j]};
      row[d] = svm_node{-1, 0.0};
      rows[static_cast<std::size_t>(i)] = row;
      labels[static_cast<std::size_t>(i)] = is_positive[i] ? 1.0 : -1.0;
    }
    problem.l = static_cast<int>(n);
    problem.y = labels.data();
    problem.x = rows.data();
  }
};

struct ModelDeleter {
  void operator()(svm_model* m) const { svm_free_and_destroy_model(&m); }
};

}  // namespace

double scale_gamma(const torch::Tensor& features) {
  if (features.dim() != 2 || features.size(0) < 1 || features.size(1) < 1)
    throw InvalidInput("svm: gamma 'scale' needs features [N, D] with N, D >= 1, got " + c10::str(features.sizes()));
  const double variance = features.detach().to(torch::kDouble).var(/*unbiased=*/false).item<double>();
  return variance > 0.0 ? 1.0 / (static_cast<double>(features.size(1)) * variance) : 1.0;
}

RbfSvm RbfSvm::fit(const torch::Tensor& features, const torch::Tensor& positive, const RbfSvmOptions& options) {
  if (features.dim() != 2 || positive.dim() != 1 || positive.size(0) != features.size(0))
    throw InvalidInput("svm: fit needs features [N, D] and labels [N], got " + c10::str(features.sizes()) + " and " +
                       c10::str(positive.sizes()));
  const std::int64_t positives = positive.to(torch::kBool).sum().item<std::int64_t>();
  if (positives == 0 || positives == features.size(0))
    throw InvalidInput("svm: fit needs both classes, got " + std::to_string(positives) + " positive of " +
                       std::to_string(features.size(0)) + " rows");
  if (!(options.c > 0.0)) throw InvalidInput("svm: C must be > 0");

  RbfSvm svm;
  svm.gamma_ = options.gamma > 0.0 ? options.gamma : scale_gamma(features);

  LibsvmProblem data(features, positive);
  // svm-train's defaults for everything the options do not set.
  svm_parameter param{};
  param.svm_type = C_SVC;
  param.kernel_type = RBF;
  param.degree = 3;
  param.gamma = svm.gamma_;
  param.coef0 = 0.0;
  param.cache_size = options.cache_mb;
  param.eps = options.tolerance;
  param.C = options.c;
  param.nr_weight = 0;
  param.weight_label = nullptr;
  param.weight = nullptr;
  param.nu = 0.5;
  param.p = 0.1;
  param.shrinking = 1;
  param.probability = options.probability ? 1 : 0;
  if (const char* problem = svm_check_parameter(&data.problem, &param))
    throw InvalidInput(std::string("svm: libsvm refuses the parameters: ") + problem);

  // libsvm prints its progress to stdout unless told otherwise, and draws the folds of
  // Platt scaling's cross-validation from rand(): both are process-wide settings.
  svm_set_print_string_function(&discard_libsvm_output);
  std::srand(options.shuffle_seed);
  std::unique_ptr<svm_model, ModelDeleter> model(svm_train(&data.problem, &param));
  if (!model || model->nr_class != 2) throw Error("svm: libsvm returned no two-class model");

  // The support vectors point into `data`'s rows (free_sv = 0): copy them out densely.
  const std::int64_t s = model->l, d = features.size(1);
  svm.support_vectors_ = torch::zeros({s, d}, torch::kDouble);
  svm.coefficients_ = torch::empty({s}, torch::kDouble);
  auto sv = svm.support_vectors_.accessor<double, 2>();
  auto coef = svm.coefficients_.accessor<double, 1>();
  for (std::int64_t i = 0; i < s; ++i) {
    for (const svm_node* node = model->SV[i]; node->index != -1; ++node) sv[i][node->index - 1] = node->value;
    coef[i] = model->sv_coef[0][i];
  }
  svm.support_norms_ = svm.support_vectors_.pow(2).sum(1);
  svm.rho_ = model->rho[0];
  svm.positive_first_ = model->label[0] == 1;
  svm.has_probability_ = svm_check_probability_model(model.get()) != 0;
  if (svm.has_probability_) {
    svm.prob_a_ = model->probA[0];
    svm.prob_b_ = model->probB[0];
  }
  svm.to(features.device());
  return svm;
}

void RbfSvm::to(c10::Device device) {
  support_vectors_ = support_vectors_.to(device);
  support_norms_ = support_norms_.to(device);
  coefficients_ = coefficients_.to(device);
}

torch::Tensor RbfSvm::libsvm_decision(const torch::Tensor& features) const {
  if (!support_vectors_.defined()) throw InvalidInput("svm: the SVM is not fitted");
  if (features.dim() != 2 || features.size(1) != support_vectors_.size(1))
    throw InvalidInput("svm: expected features [B, " + std::to_string(support_vectors_.size(1)) + "], got " +
                       c10::str(features.sizes()));
  const torch::Tensor x = features.to(torch::kDouble);
  const torch::Tensor sv = support_vectors_.to(x.device());
  // libsvm's k_function: exp(-gamma (x.x + sv.sv - 2 x.sv)).
  const torch::Tensor squared = x.pow(2).sum(1, /*keepdim=*/true) + support_norms_.to(x.device()).unsqueeze(0) -
                                2.0 * torch::matmul(x, sv.t());
  const torch::Tensor kernel = torch::exp(-gamma_ * squared);
  return torch::matmul(kernel, coefficients_.to(x.device())) - rho_;
}

torch::Tensor RbfSvm::decision(const torch::Tensor& features) const {
  const torch::Tensor f = libsvm_decision(features);
  return positive_first_ ? f : -f;
}

torch::Tensor RbfSvm::probability(const torch::Tensor& features) const {
  if (!has_probability_) throw InvalidInput("svm: fitted without probability estimates");
  // libsvm's sigmoid_predict, then its clamp to [min_prob, 1 - min_prob].
  constexpr double kMinProb = 1e-7;
  const torch::Tensor first = torch::sigmoid(-(libsvm_decision(features) * prob_a_ + prob_b_)).clamp(kMinProb, 1.0 - kMinProb);
  return positive_first_ ? first : 1.0 - first;
}

}  // namespace medadv::plugins::svm
