// The `medadv new preprocessor` template: the plugin class and its test.
#include "scaffold/kind_template.h"

namespace medadv::host::scaffold {

KindTemplate preprocessor_template() {
  KindTemplate t;
  t.helper = "preprocessor";
  t.threat = "";
  t.summary = "Bit-depth reduction of the input (feature squeezing)";
  t.about = R"TPL(A preprocessing defense: every pixel value is rounded to one of 2^`bits` grey levels,
`round(x * (2^bits - 1)) / (2^bits - 1)` (feature squeezing, Xu et al., 2018).
Rounding has zero gradient almost everywhere, so attacks see this defense through BPDA
(Athalye et al., 2018): the forward pass applies `transform()`, the backward pass the
gradient of `backward_approximation()`, here the default identity.

| parameter | type | default | meaning |
|-----------|------|---------|---------|
| `bits` | int in [1, 8] | `4` | bits kept per value (2^bits levels) |)TPL";
  t.header = R"TPL(#pragma once
// @NAME@: bit-depth reduction (feature squeezing).
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <cstdint>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::Preprocessor {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_int("bits", 4, "bits kept per pixel value (2^bits grey levels)").min(1).max(8);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/)
      : levels_(static_cast<double>((std::int64_t{1} << p.get_int("bits")) - 1)) {}

  torch::Tensor transform(const torch::Tensor& x) override { return torch::round(x * levels_) / levels_; }

  // backward_approximation() keeps the SDK's identity: rounding has no useful gradient,
  // and the straight-through estimate is the standard BPDA choice for it.

 private:
  double levels_;  // 2^bits - 1 steps between 0 and 1
};
)TPL";
  t.test = R"TPL(// Tests of @NAME@: closed-form properties of rounding to 2^bits levels.
#include "@TARGET@.h"

#include <cstdint>
#include <tuple>

#include <gtest/gtest.h>
#include <medadv/testing.h>

namespace {

TEST(@CLASS@, QuantisesToTwoToTheBitsLevels) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ pre(params, ctx);
  const std::int64_t levels = std::int64_t{1} << params.get_int("bits");

  const torch::Tensor x = medadv::testing::random_images(4, 3, 32, 1);
  const torch::Tensor y = pre.transform(x);
  ASSERT_EQ(y.sizes().vec(), x.sizes().vec());
  const torch::Tensor distinct = std::get<0>(torch::unique_consecutive(std::get<0>(y.flatten().sort())));
  EXPECT_LE(distinct.numel(), levels);
  EXPECT_GE(y.min().item<double>(), 0.0);
  EXPECT_LE(y.max().item<double>(), 1.0);
  // Rounding moves each value by at most half a step, and a second pass changes nothing.
  EXPECT_LE((y - x).abs().max().item<double>(), 0.5 / static_cast<double>(levels - 1) + 1e-6);
  EXPECT_TRUE(torch::equal(pre.transform(y), y));
}

TEST(@CLASS@, BpdaForwardIsTheTransformAndBackwardTheIdentity) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  medadv::testing::TestContext ctx;
  @CLASS@ pre(s.defaults("@NAME@"), ctx);
  const torch::Tensor x = medadv::testing::random_images(2, 3, 16, 2).requires_grad_(true);
  const torch::Tensor y = medadv::bpda(pre, x);
  EXPECT_TRUE(torch::allclose(y, pre.transform(x.detach())));
  y.sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), torch::ones_like(x)));
}

}  // namespace
)TPL";
  return t;
}

}  // namespace medadv::host::scaffold
