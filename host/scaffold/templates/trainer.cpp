// The `medadv new trainer` template: the plugin class and its test.
#include "scaffold/kind_template.h"

namespace medadv::host::scaffold {

KindTemplate trainer_template() {
  KindTemplate t;
  t.helper = "trainer";
  t.threat = "";
  t.summary = "Plain SGD cross-entropy training";
  t.about = R"TPL(A training procedure: mini-batch SGD with momentum on the cross-entropy of the
training split, shuffled each epoch from a generator seeded by the run (the same seed
gives the same model). It is the place to add robust training: ask
`attacks.make(name, params)` for an attack plugin and train on its adversarial examples.

| parameter | type | default | meaning |
|-----------|------|---------|---------|
| `epochs` | int >= 1 | `5` | passes over the training split |
| `lr` | float > 0 | `0.05` | learning rate |
| `batch_size` | int >= 1 | `32` | images per step |
| `momentum` | float in [0, 1) | `0.9` | SGD momentum |)TPL";
  t.header = R"TPL(#pragma once
// @NAME@: plain SGD training on the cross-entropy.
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <algorithm>
#include <cstdint>
#include <string>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::Trainer {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_int("epochs", 5, "passes over the training split").min(1);
    s.add_float("lr", 0.05, "SGD learning rate").min_exclusive(0.0);
    s.add_int("batch_size", 32, "images per SGD step").min(1);
    s.add_float("momentum", 0.9, "SGD momentum").min(0.0).max_exclusive(1.0);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/)
      : epochs_(p.get_int("epochs")),
        lr_(p.get_float("lr")),
        batch_size_(p.get_int("batch_size")),
        momentum_(p.get_float("momentum")) {}

  void train(medadv::TappedModule& model, const medadv::TrainingSet& data, medadv::AttackFactory& /*attacks*/,
             medadv::RunContext& ctx) override {
    const torch::Device device = ctx.device();
    model.to(device);
    torch::optim::SGD optimizer(model.parameters(), torch::optim::SGDOptions(lr_).momentum(momentum_));
    // A generator of its own, seeded from the run: the order is reproducible and does
    // not depend on whatever else draws random numbers.
    at::Generator generator = medadv::compat::cpu_generator(ctx.seed_for("trainer/shuffle"));
    const std::int64_t n = data.images.size(0);

    model.train();
    ctx.progress().begin("train @NAME@", epochs_);
    for (std::int64_t epoch = 0; epoch < epochs_; ++epoch) {
      const torch::Tensor order = torch::randperm(n, generator).to(data.images.device());
      double loss_sum = 0.0;
      for (std::int64_t start = 0; start < n; start += batch_size_) {
        const torch::Tensor index = order.slice(0, start, std::min(start + batch_size_, n));
        const torch::Tensor x = data.images.index_select(0, index).to(device);
        const torch::Tensor y = data.labels.index_select(0, index).to(device);
        optimizer.zero_grad();
        const torch::Tensor loss = torch::nn::functional::cross_entropy(model.forward(x), y);
        loss.backward();
        optimizer.step();
        loss_sum += loss.item<double>() * static_cast<double>(index.size(0));
      }
      ctx.log().info("@NAME@: epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs_) +
                     ", mean loss " + std::to_string(loss_sum / static_cast<double>(n)));
      ctx.progress().advance();
    }
    ctx.progress().end();
    // The host evaluates and attacks the model next: batch norm and dropout must be in
    // inference mode.
    model.eval();
  }

 private:
  std::int64_t epochs_;
  double lr_;
  std::int64_t batch_size_;
  double momentum_;
};
)TPL";
  t.test = R"TPL(// Tests of @NAME@: it must actually learn a task a tiny CNN can learn.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <medadv/testing.h>

namespace {

// Class 1 images are bright, class 0 dark, with pixel noise: learnable in a few epochs.
std::pair<torch::Tensor, torch::Tensor> bright_versus_dark(std::int64_t n, std::uint64_t seed) {
  at::Generator gen = medadv::compat::cpu_generator(seed);
  const torch::Tensor labels = torch::arange(n, torch::kInt64) % 2;
  const torch::Tensor level = 0.2 + 0.6 * labels.to(torch::kFloat32).view({n, 1, 1, 1});
  const torch::Tensor images = (level + 0.05 * torch::randn({n, 1, 16, 16}, gen)).clamp(0.0, 1.0);
  return {images, labels};
}

double accuracy(medadv::TappedModule& model, const torch::Tensor& x, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  return model.forward(x).argmax(1).eq(y).to(torch::kFloat32).mean().item<double>();
}

struct no_attacks : medadv::AttackFactory {
  std::shared_ptr<medadv::Attack> make(const std::string& plugin, const medadv::Value&) override {
    throw medadv::Error("this test offers no attack plugins (asked for '" + plugin + "')");
  }
};

TEST(@CLASS@, LearnsBrightVersusDark) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ trainer(params, ctx);

  auto model = std::make_shared<medadv::testing::TinyClassifier>(1, 2, 0);
  medadv::TrainingSet data;
  std::tie(data.images, data.labels) = bright_versus_dark(64, 1);
  data.spec = medadv::ModelSpec{1, 2, 16, medadv::Task::Classification, {}, {}};
  const auto [test_x, test_y] = bright_versus_dark(64, 2);  // held out
  const double before = accuracy(*model, test_x, test_y);
  no_attacks attacks;

  trainer.train(*model, data, attacks, ctx);

  const double after = accuracy(*model, test_x, test_y);
  EXPECT_GE(after, 0.9) << "held-out accuracy before training: " << before;
  EXPECT_LT(before, after);  // the training did it, not a lucky initialisation
  EXPECT_FALSE(model->is_training());
}

}  // namespace
)TPL";
  return t;
}

}  // namespace medadv::host::scaffold
