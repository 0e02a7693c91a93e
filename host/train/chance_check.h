#pragma once
// A classifier no better than always answering the most frequent class makes every
// attack and detector figure computed on it meaningless, yet a run on it goes through
// without an error (a too-large learning rate, too few epochs). The host says so as
// soon as the model is trained or loaded.
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace medadv::host {

// P(X >= k) for X ~ Binomial(n, p), summed term by term in log space.
double binomial_upper_tail(std::int64_t k, std::int64_t n, double p);

// Empty when `accuracy` on `labels` (the val split, [N] class indices) is clearly above
// the share of its most frequent class (one-sided exact binomial test at 5%) or cannot
// be judged (no labels, accuracy NaN); otherwise the warning to log, naming `model`.
std::string chance_level_warning(const std::string& model, double accuracy, const torch::Tensor& labels);

}  // namespace medadv::host
