#pragma once
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
