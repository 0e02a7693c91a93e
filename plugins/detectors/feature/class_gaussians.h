#pragma once
// Class-conditional Gaussians over one tap's pooled features, held as a GaussianMixture
// whose components are the classes, so that the distances to every class come from one
// batched call (medadv/gaussian_mixture.h). Tied (one covariance from all class-centred
// features: Lee et al.'s Mahalanobis) or per class (mgm). Covariances are the empirical
// (1/n) ones plus a ridge relative to their scale: ridge * trace(Sigma) / D on the
// diagonal, so the same value suits features of any magnitude.
#include <cstdint>

#include <torch/torch.h>

#include <medadv/error.h>
#include <medadv/gaussian_mixture.h>

namespace medadv::plugins::feature {

struct ClassGaussians {
  GaussianMixture gaussians;  // component c = class c
  torch::Tensor present;      // [C] bool: classes with fit samples

  // Squared Mahalanobis distance to every class [B, C] (float64, differentiable in
  // `features`); +inf for classes without fit samples.
  torch::Tensor squared_distances(const torch::Tensor& features) const {
    const auto d2 = gaussians.squared_mahalanobis(features.to(torch::kDouble));
    return torch::where(present.to(d2.device()).unsqueeze(0), d2, torch::full_like(d2, INFINITY));
  }
};

// `features` [N, D], `labels` [N] in [0, num_classes). A class without samples gets the
// overall mean (it is masked out by `present`); per-class covariances of classes with
// fewer than 2 samples fall back to the tied one.
inline ClassGaussians fit_class_gaussians(const torch::Tensor& features, const torch::Tensor& labels,
                                          std::int64_t num_classes, bool tied, double ridge) {
  const auto f = features.detach().to(torch::kDouble);
  const auto y = labels.to(f.device(), torch::kLong);
  const std::int64_t n = f.size(0), d = f.size(1);
  const auto member = torch::one_hot(y, num_classes).to(torch::kDouble);  // [N, C]
  const auto counts = member.sum(0);                                      // [C]
  const auto present = counts > 0;
  auto means = torch::matmul(member.t(), f) / counts.clamp_min(1.0).unsqueeze(1);
  means = torch::where(present.unsqueeze(1), means, f.mean(0).unsqueeze(0).expand_as(means));
  const auto centred = f - means.index_select(0, y);
  const auto pooled = torch::matmul(centred.t(), centred) / static_cast<double>(n);
  torch::Tensor covariances;
  if (tied) {
    covariances = pooled.unsqueeze(0).expand({num_classes, d, d});
  } else {
    const auto weighted = centred.unsqueeze(0) * member.t().unsqueeze(2);  // [C, N, D]
    const auto own = torch::matmul(weighted.transpose(1, 2), centred.unsqueeze(0)) /
                     counts.clamp_min(1.0).view({-1, 1, 1});
    covariances = torch::where((counts >= 2).view({-1, 1, 1}), own, pooled.unsqueeze(0).expand_as(own));
  }
  const auto scale = (covariances.diagonal(0, 1, 2).sum(1) / static_cast<double>(d)).clamp_min(1e-12);  // [C]
  covariances = covariances + (ridge * scale).view({-1, 1, 1}) * torch::eye(d, f.options()).unsqueeze(0);
  ClassGaussians g;
  g.gaussians = GaussianMixture::from_parameters(counts.clamp_min(1.0), means, covariances);
  g.present = present;
  return g;
}

}  // namespace medadv::plugins::feature
