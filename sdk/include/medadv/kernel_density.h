#pragma once
// One Gaussian kernel density estimate per class over one tap's pooled fit features
// (Feinman et al. 2017; sklearn's KernelDensity(kernel="gaussian")):
//   log p(f | c) = log sum_{i in c} exp(-||f - f_i||^2 / (2 h^2)) - log n_c - (D/2) log(2 pi h^2).
// A class without fit samples falls back to the KDE over every fit sample, so every
// predicted class has a density. The kd detector scores with it and the kde-evasion attack
// term climbs it: one implementation, so that the attack evades the detector's density.
#include <cmath>
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "medadv/error.h"

namespace medadv {

class ClassKernelDensity {
 public:
  ClassKernelDensity() = default;

  // `features` [N, D] (N >= 2), `labels` [N] in [0, num_classes), `bandwidth` > 0. Kept
  // on the features' device, in float64.
  ClassKernelDensity(const torch::Tensor& features, const torch::Tensor& labels, std::int64_t num_classes,
                     double bandwidth)
      : bandwidth_(bandwidth) {
    if (!(bandwidth > 0.0) || !std::isfinite(bandwidth))
      throw InvalidInput("kernel density: the bandwidth must be a positive number");
    points_ = features.detach().to(torch::kDouble);
    const auto labels_long = labels.to(points_.device(), torch::kLong);
    // member_[i, c]: point i belongs to class c; column num_classes holds every point.
    member_ = torch::cat({torch::one_hot(labels_long, num_classes).to(torch::kBool),
                          torch::ones({points_.size(0), 1}, labels_long.options().dtype(torch::kBool))},
                         1);
    counts_ = member_.sum(0).to(torch::kDouble);  // [C + 1]
    // Empty classes use the pooled column.
    const auto pooled = torch::full({num_classes}, num_classes, labels_long.options());
    column_of_class_ = torch::where(counts_.slice(0, 0, num_classes) > 0,
                                    torch::arange(num_classes, labels_long.options()), pooled);
    // Leave-one-out needs another point of the class; singletons use the pooled column.
    loo_column_ = torch::where(counts_.index_select(0, labels_long) >= 2, labels_long,
                               torch::full_like(labels_long, num_classes));
    for (std::int64_t column = 0; column < member_.size(1); ++column)
      points_of_column_.push_back(points_.index_select(0, torch::nonzero(member_.select(1, column)).flatten()));
  }

  double bandwidth() const { return bandwidth_; }

  // log p(f | classes[b]) per row [B], differentiable in `features` [B, D]; float64.
  // Rows are grouped by their column and each group meets only its column's points: with
  // K classes, K times fewer distances than masking a [B, N] matrix (one host read of
  // the group sizes per call).
  torch::Tensor log_density(const torch::Tensor& features, const torch::Tensor& classes) const {
    const auto f = features.to(torch::kDouble);
    const auto columns = column_of_class_.to(f.device()).index_select(0, classes.to(f.device(), torch::kLong));
    const auto group_sizes = torch::bincount(columns, {}, member_.size(1)).cpu();
    const auto sizes = group_sizes.accessor<std::int64_t, 1>();
    const double normaliser = log_normaliser(std::log(bandwidth_));
    auto result = torch::zeros({f.size(0)}, f.options());
    for (std::int64_t column = 0; column < group_sizes.size(0); ++column) {
      if (sizes[column] == 0) continue;
      const auto rows = torch::nonzero(columns == column).flatten();
      const auto& points = points_of_column_[static_cast<std::size_t>(column)];
      const auto d2 = squared_distances(f.index_select(0, rows), points.to(f.device()));
      const auto log_kernel_sum = torch::logsumexp(-d2 / (2.0 * bandwidth_ * bandwidth_), 1);
      const double log_count = std::log(static_cast<double>(points.size(0)));
      result = result.index_copy(0, rows, log_kernel_sum - log_count - normaliser);
    }
    return result;
  }

  // The same for the fit points themselves, each without its own kernel [N].
  torch::Tensor log_density_leave_one_out() const {
    return masked_log_density(squared_distances(points_, points_), loo_column_, /*leave_one_out=*/true);
  }

  // The bandwidth with the highest leave-one-out log-likelihood of the fit points under
  // their class KDEs, from a grid h = s * 2^(j/2), j = -8..8, around s = the median
  // leave-one-out nearest-neighbour distance / sqrt(D) (the scale at which a Gaussian
  // kernel in D dimensions reaches the nearest neighbour). Deterministic; one value read
  // back from the device.
  static double select_bandwidth(const torch::Tensor& features, const torch::Tensor& labels,
                                 std::int64_t num_classes) {
    ClassKernelDensity probe(features, labels, num_classes, 1.0);
    const auto d2 = squared_distances(probe.points_, probe.points_);
    const auto same = probe.member_.t().index_select(0, probe.loo_column_);  // [N, N]
    const auto off_diagonal = torch::eye(d2.size(0), same.options()).logical_not();
    const auto candidates = torch::where(same.logical_and(off_diagonal), d2, torch::full_like(d2, INFINITY));
    const auto nearest = std::get<0>(candidates.min(1)).sqrt();
    const double dim = static_cast<double>(probe.points_.size(1));
    const auto scale = (nearest.median() / std::sqrt(dim)).clamp_min(1e-12);
    std::vector<torch::Tensor> scores, widths;
    for (int j = -8; j <= 8; ++j) {
      const auto h = scale * std::pow(2.0, 0.5 * j);
      scores.push_back(probe.masked_log_density_at(d2, probe.loo_column_, true, h).sum());
      widths.push_back(h);
    }
    const auto best = torch::stack(scores).argmax();
    return torch::stack(widths).index_select(0, best.reshape({1})).item<double>();
  }

 private:
  static torch::Tensor squared_distances(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.pow(2).sum(1, true) - 2.0 * torch::matmul(a, b.t()) + b.pow(2).sum(1).unsqueeze(0)).clamp_min(0.0);
  }

  torch::Tensor masked_log_density(const torch::Tensor& d2, const torch::Tensor& columns, bool leave_one_out) const {
    return masked_log_density_at(d2, columns, leave_one_out,
                                 torch::full({}, bandwidth_, d2.options()));
  }

  // d2 [B, N] to the fit points; each row uses the kernels of its column's members.
  torch::Tensor masked_log_density_at(const torch::Tensor& d2, const torch::Tensor& columns, bool leave_one_out,
                                      const torch::Tensor& h) const {
    const auto device = d2.device();
    auto use = member_.to(device).t().index_select(0, columns);  // [B, N]
    auto count = counts_.to(device).index_select(0, columns);
    if (leave_one_out) {
      use = use.logical_and(torch::eye(d2.size(0), use.options()).logical_not());
      count = count - 1.0;
    }
    const auto log_kernel = torch::where(use, -d2 / (2.0 * h * h), torch::full_like(d2, -INFINITY));
    return torch::logsumexp(log_kernel, 1) - count.log() - log_normaliser(h.log());
  }

  // The Gaussian kernel's log normaliser (D/2) log(2 pi h^2), from log h (a double, or a
  // tensor of bandwidths).
  template <class LogBandwidth>
  LogBandwidth log_normaliser(const LogBandwidth& log_h) const {
    static const double log_2pi = std::log(2.0 * 3.14159265358979323846);
    return 0.5 * static_cast<double>(points_.size(1)) * (log_2pi + 2.0 * log_h);
  }

  double bandwidth_ = 1.0;
  torch::Tensor points_, member_, counts_, column_of_class_, loo_column_;
  std::vector<torch::Tensor> points_of_column_;  // the members of each column of member_
};

}  // namespace medadv
