#pragma once
// The one place where differences between the supported LibTorch builds (Debian's
// 1.13 and 2.x) are isolated.
#include <cstdint>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <torch/version.h>

namespace medadv::compat {

inline constexpr int torch_major = TORCH_VERSION_MAJOR;
inline constexpr int torch_minor = TORCH_VERSION_MINOR;

// A seeded CPU generator (the constructor helper moved between versions).
inline at::Generator cpu_generator(std::uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

inline bool cuda_available() { return torch::cuda::is_available(); }

}  // namespace medadv::compat
