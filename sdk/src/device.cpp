#include "medadv/device.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include "medadv/error.h"

namespace medadv {

torch::Device resolve_device(const std::string& spec) {
  if (spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (spec.size() > 5) {
      const std::string digits = spec.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
        throw InvalidInput("device \"" + spec + "\": expected cuda:N with N a device index");
      index = std::stoi(digits);
    }
    if (!torch::cuda::is_available())
      throw InvalidInput("device \"" + spec + "\" requested, but CUDA is not available (this LibTorch build or machine "
                         "has no GPU); use device = \"auto\" or \"cpu\"");
    const auto count = static_cast<int>(torch::cuda::device_count());
    if (index >= count)
      throw InvalidInput("device \"" + spec + "\" requested, but only " + std::to_string(count) +
                         " CUDA device(s) are present");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw InvalidInput("device \"" + spec + "\" is not one of auto | cpu | cuda | cuda:N");
}

std::string device_text(const torch::Device& d) { return d.str(); }

void set_cuda_math(CudaMath math) {
  const bool fast = math == CudaMath::Fast;
  auto& context = at::globalContext();
  context.setDeterministicCuDNN(!fast);
  context.setBenchmarkCuDNN(fast);
  context.setAllowTF32CuDNN(fast);
  context.setAllowTF32CuBLAS(fast);
}

}  // namespace medadv
