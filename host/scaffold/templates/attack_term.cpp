// The `medadv new attack-term` template: the plugin class and its test.
#include "scaffold/kind_template.h"

namespace medadv::host::scaffold {

KindTemplate attack_term_template() {
  KindTemplate t;
  t.helper = "attack_term";
  t.threat = "";
  t.summary = "Pushes the mean activation of a model tap up or down";
  t.about = R"TPL(An add-on loss term that any white-box attack can carry: it adds, per sample, the
mean activation of one model tap (`direction = "up"`) or its negative (`"down"`) to
the objective the attack maximises. Typical uses: feature-space stress tests, or
pushing a detector's input features away from where it was fitted.

| parameter | type | default | meaning |
|-----------|------|---------|---------|
| `tap` | string | `"penultimate"` | model tap whose mean activation the term moves (one of the victim model's taps) |
| `direction` | enum: up \| down | `"up"` | raise or lower that activation |

`fit()` runs once on clean data before the attack; it checks that the model offers the
tap and logs its clean mean. Terms that need statistics of clean features (means,
covariances, a fitted detector) compute them there.)TPL";
  t.header = R"TPL(#pragma once
// @NAME@: an add-on attack term that moves the mean activation of one tap.
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <algorithm>
#include <string>
#include <vector>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::AttackTerm {
 public:
  // An enum parameter is declared with the value each name stands for and read back as
  // that value (Params::get_enum): the plugin never parses the text itself.
  enum class Direction { Down = -1, Up = 1 };

  static void schema(medadv::ParamSchema& s) {
    s.add_string("tap", "penultimate", "model tap whose mean activation the term moves").min_length(1);
    s.add_enum<Direction>("direction", {{"up", Direction::Up}, {"down", Direction::Down}}, Direction::Up,
                          "raise (up) or lower (down) the tap's mean activation");
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/)
      : tap_(p.get_string("tap")), sign_(static_cast<double>(p.get_enum<Direction>("direction"))) {}

  std::vector<std::string> taps() const override { return {tap_}; }

  void fit(medadv::DifferentiableModel& model, const torch::Tensor& images, const torch::Tensor& /*labels*/,
           medadv::RunContext& ctx) override {
    // A wrong tap name fails here, before any attack work, naming what the model offers.
    const std::vector<std::string> offered = model.tap_names();
    if (std::find(offered.begin(), offered.end(), tap_) == offered.end()) {
      std::string list;
      for (const auto& name : offered) list += (list.empty() ? "" : ", ") + name;
      throw medadv::InvalidInput("@NAME@: the model has no tap '" + tap_ + "'" + medadv::did_you_mean(tap_, offered) +
                                 "; its taps: " + list);
    }
    torch::NoGradGuard no_grad;
    const double clean_mean = model.forward(images, {tap_}).tap(tap_).mean().item<double>();
    ctx.log().info("@NAME@: clean mean activation of '" + tap_ + "' is " + std::to_string(clean_mean));
  }

  torch::Tensor loss(const medadv::ModelOutput& out, const torch::Tensor& /*x_adv*/) override {
    // A mean rather than a sum, so the term's scale does not grow with the tap's size and
    // one weight in the experiment means the same thing for every tap.
    return sign_ * out.tap(tap_).flatten(1).mean(1);
  }

 private:
  std::string tap_;
  double sign_;
};
)TPL";
  t.test = R"TPL(// Tests of @NAME@ on a tiny classifier.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

namespace {

medadv::Params params_with(medadv::Value::Table overrides) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  return s.resolve_or_throw(medadv::Value(std::move(overrides)), "@NAME@");
}

std::shared_ptr<medadv::ModuleModel> tiny_model() {
  return std::make_shared<medadv::ModuleModel>(std::make_shared<medadv::testing::TinyClassifier>(3, 3, 0), 3,
                                               medadv::Task::Classification);
}

TEST(@CLASS@, PerSampleLossAndDirection) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ up(params, ctx);
  @CLASS@ down(params_with({{"direction", medadv::Value("down")}}), ctx);
  auto model = tiny_model();
  const torch::Tensor x = medadv::testing::random_images(4, 3, 32, 1);
  const torch::Tensor y = torch::tensor({0, 1, 2, 0}, torch::kInt64);
  up.fit(*model, x, y, ctx);
  down.fit(*model, x, y, ctx);

  const torch::Tensor xr = x.clone().requires_grad_(true);
  const medadv::ModelOutput out = model->forward(xr, up.taps());
  const torch::Tensor lu = up.loss(out, xr);
  const torch::Tensor ld = down.loss(out, xr);
  ASSERT_EQ(lu.sizes().vec(), std::vector<std::int64_t>{4});
  EXPECT_TRUE(torch::allclose(ld, -lu));
  // The default tap is post-ReLU, so "up" starts from a non-negative mean.
  EXPECT_GE(lu.min().item<double>(), 0.0);
  // The attack needs a gradient from the term to the input.
  const torch::Tensor grad = torch::autograd::grad({lu.sum()}, {xr})[0];
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
}

TEST(@CLASS@, UnknownTapFailsInFit) {
  medadv::testing::TestContext ctx;
  @CLASS@ term(params_with({{"tap", medadv::Value("no-such-tap")}}), ctx);
  auto model = tiny_model();
  EXPECT_THROW(term.fit(*model, medadv::testing::random_images(2, 3, 32, 1), torch::tensor({0, 1}), ctx),
               medadv::InvalidInput);
}

}  // namespace
)TPL";
  return t;
}

}  // namespace medadv::host::scaffold
