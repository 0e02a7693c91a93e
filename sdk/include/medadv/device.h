#pragma once
// Device choice, one place for every plugin and the host.
#include <string>

#include <torch/types.h>

#include "medadv/export.h"

namespace medadv {

// "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N". Throws InvalidInput
// for an unknown spelling or a CUDA device that this machine or LibTorch lacks.
MEDADV_API torch::Device resolve_device(const std::string& spec);
MEDADV_API std::string device_text(const torch::Device& d);

// How CUDA computes (process-wide; nothing changes on the CPU).
//   Reproducible: deterministic cuDNN algorithms, no autotuning, full fp32 convolutions and
//                 matrix products (no TF32): a seed repeats a run on one machine, and the
//                 figures differ from the CPU's by float rounding only.
//   Fast:         cuDNN's autotuner and TF32 (10-bit mantissa) convolutions and matrix
//                 products: faster on Ampere and later, not repeatable.
enum class CudaMath { Reproducible, Fast };
MEDADV_API void set_cuda_math(CudaMath math);

}  // namespace medadv
