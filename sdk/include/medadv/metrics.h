#pragma once
// Metrics defined once (ARCHITECTURE.md section 8). This header grows with the
// experiment engine; perturbation norms are needed by every attack already.
#include <torch/torch.h>

#include "medadv/export.h"

namespace medadv::metrics {

// Per-sample norms of (adversarial - clean), each [B] float.
MEDADV_API torch::Tensor linf_norm(const torch::Tensor& clean, const torch::Tensor& adversarial);
MEDADV_API torch::Tensor l2_norm(const torch::Tensor& clean, const torch::Tensor& adversarial);
// Number of changed elements (|delta| > tol) per sample.
MEDADV_API torch::Tensor l0_norm(const torch::Tensor& clean, const torch::Tensor& adversarial,
                                 double tol = 0.0);

}  // namespace medadv::metrics
