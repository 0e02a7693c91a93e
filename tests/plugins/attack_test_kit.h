#pragma once
// Helpers shared by the attack families' tests (test_gradient_*.cpp,
// test_margin_attacks.cpp): resolved parameters, a linear model with closed-form
// gradients, running an attack on a module, and the checks every AttackResult must pass.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <medadv/attack.h>
#include <medadv/capabilities.h>
#include <medadv/params.h>
#include <medadv/testing.h>
#include <medadv/torch_compat.h>

namespace medadv::attack_testing {

using medadv::AttackBatch;
using medadv::AttackResult;
using medadv::BaseLoss;
using medadv::Capability;
using medadv::ModuleModel;
using medadv::Objective;
using medadv::Value;

template <class T>
medadv::Params params_of(const std::string& name, Value::Table overrides = {}) {
  medadv::ParamSchema s;
  T::schema(s);
  return s.resolve_or_throw(Value(std::move(overrides)), name);
}

// logits = W . flatten(x) + b: the gradient of the cross-entropy has a closed form on it.
class LinearModel : public medadv::TappedModule {
 public:
  LinearModel(std::int64_t features, std::int64_t classes, std::uint64_t seed) {
    auto gen = medadv::compat::cpu_generator(seed);
    weight = register_parameter("weight", torch::randn({classes, features}, gen));
    bias = register_parameter("bias", torch::randn({classes}, gen));
  }
  std::vector<std::string> tap_names() const override { return {"penultimate", "logits"}; }
  medadv::ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    medadv::ModelOutput out;
    const auto flat = x.flatten(1);
    out.logits = torch::addmm(bias, flat, weight.t());
    for (const auto& t : taps) {
      if (t == "penultimate") out.taps[t] = flat;
      else if (t == "logits") out.taps[t] = out.logits;
      else throw medadv::Error("LinearModel has no tap '" + t + "'");
    }
    return out;
  }
  torch::Tensor weight, bias;
};

inline AttackResult attack_with(medadv::Attack& attack, std::shared_ptr<medadv::TappedModule> module, std::int64_t classes,
                         const AttackBatch& batch, const Objective& objective, medadv::RunContext& ctx) {
  Capability cap = Capability::white_box(std::make_shared<ModuleModel>(module, classes, medadv::Task::Classification));
  return attack.run(batch, cap, objective, ctx);
}

template <class T>
AttackResult run_attack(const std::string& name, Value::Table overrides, std::shared_ptr<medadv::TappedModule> module,
                        std::int64_t classes, const AttackBatch& batch, std::uint64_t seed = 0,
                        const Objective& objective = Objective(BaseLoss::CrossEntropy, false)) {
  medadv::testing::TestContext ctx(seed);
  T attack(params_of<T>(name, std::move(overrides)), ctx);
  return attack_with(attack, std::move(module), classes, batch, objective, ctx);
}

inline std::int64_t count(const torch::Tensor& mask) { return mask.to(torch::kLong).sum().item<std::int64_t>(); }

inline void expect_well_formed(const AttackResult& r, const AttackBatch& batch) {
  const std::int64_t b = batch.images.size(0);
  ASSERT_TRUE(r.adversarial.defined());
  EXPECT_EQ(r.adversarial.sizes(), batch.images.sizes());
  EXPECT_FALSE(r.adversarial.requires_grad());
  EXPECT_EQ(r.success.scalar_type(), torch::kBool);
  EXPECT_EQ(r.success.sizes(), (std::vector<std::int64_t>{b}));
  EXPECT_EQ(r.iterations.scalar_type(), torch::kLong);
  EXPECT_EQ(r.iterations.sizes(), (std::vector<std::int64_t>{b}));
  EXPECT_EQ(r.queries.scalar_type(), torch::kLong);
  EXPECT_EQ(count(r.queries != 0), 0);
  EXPECT_EQ(r.adversarial.device(), batch.images.device());
  EXPECT_GE(r.adversarial.min().item<double>(), 0.0);
  EXPECT_LE(r.adversarial.max().item<double>(), 1.0);
}

}  // namespace medadv::attack_testing
