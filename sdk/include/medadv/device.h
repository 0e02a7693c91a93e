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

}  // namespace medadv
