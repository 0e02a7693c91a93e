// The CUDA math modes set the process-wide flags PyTorch's cuDNN and cuBLAS calls read
// (readable on every build, with or without CUDA), and device spellings are checked.
#include <gtest/gtest.h>

#include <ATen/Context.h>

#include "medadv/device.h"
#include "medadv/error.h"

namespace {

TEST(CudaMath, FastAllowsAutotuningAndTf32ReproducibleForbidsBoth) {
  auto& context = at::globalContext();
  medadv::set_cuda_math(medadv::CudaMath::Fast);
  EXPECT_TRUE(context.benchmarkCuDNN());
  EXPECT_FALSE(context.deterministicCuDNN());
  EXPECT_TRUE(context.allowTF32CuDNN());
  EXPECT_TRUE(context.allowTF32CuBLAS());

  medadv::set_cuda_math(medadv::CudaMath::Reproducible);
  EXPECT_FALSE(context.benchmarkCuDNN());
  EXPECT_TRUE(context.deterministicCuDNN());
  EXPECT_FALSE(context.allowTF32CuDNN());
  EXPECT_FALSE(context.allowTF32CuBLAS());
}

TEST(ResolveDevice, CpuAlwaysAndBadSpellingsNamed) {
  EXPECT_EQ(medadv::resolve_device("cpu"), torch::Device(torch::kCPU));
  try {
    medadv::resolve_device("gpu");
    FAIL() << "\"gpu\" accepted";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("\"gpu\" is not one of auto | cpu | cuda | cuda:N"), std::string::npos);
  }
  EXPECT_THROW(medadv::resolve_device("cuda:x"), medadv::InvalidInput);
}

}  // namespace
