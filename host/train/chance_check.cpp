#include "train/chance_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace medadv::host {

namespace {
constexpr double kSignificance = 0.05;
}

double binomial_upper_tail(std::int64_t k, std::int64_t n, double p) {
  if (k <= 0) return 1.0;
  if (k > n) return 0.0;
  if (p <= 0.0) return 0.0;
  if (p >= 1.0) return 1.0;
  const double log_p = std::log(p), log_q = std::log1p(-p);
  const double log_n_factorial = std::lgamma(static_cast<double>(n) + 1.0);
  double tail = 0.0;
  for (std::int64_t i = k; i <= n; ++i) {
    const double log_choose = log_n_factorial - std::lgamma(static_cast<double>(i) + 1.0) -
                              std::lgamma(static_cast<double>(n - i) + 1.0);
    tail += std::exp(log_choose + static_cast<double>(i) * log_p + static_cast<double>(n - i) * log_q);
  }
  return std::min(tail, 1.0);
}

std::string chance_level_warning(const std::string& model, double accuracy, const torch::Tensor& labels) {
  if (!labels.defined() || labels.dim() != 1 || labels.numel() == 0 || !std::isfinite(accuracy)) return "";
  const std::int64_t n = labels.numel();
  const auto counts = torch::bincount(labels.to(torch::kCPU, torch::kLong));
  const double majority = static_cast<double>(counts.max().item<std::int64_t>()) / static_cast<double>(n);
  const auto correct = static_cast<std::int64_t>(std::llround(accuracy * static_cast<double>(n)));
  const double p_value = binomial_upper_tail(correct, n, majority);
  if (p_value < kSignificance) return "";
  char text[512];
  std::snprintf(text, sizeof text,
                "%s: val accuracy %.3f (%lld/%lld) is not clearly above always answering the most frequent "
                "class (%.3f; binomial p = %.2f): attack and detector figures on this model mean little. "
                "Train it longer or change model.train (lr, optimizer, epochs).",
                model.c_str(), accuracy, static_cast<long long>(correct), static_cast<long long>(n), majority,
                p_value);
  return text;
}

}  // namespace medadv::host
