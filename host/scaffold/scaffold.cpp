#include "scaffold/scaffold.h"

#include <string_view>

#include "medadv/error.h"

// The templates below are the files a plugin author starts from, so they are written
// to be read: each plugin is short, correct and commented with the reasons a first
// reader needs, and each test checks behaviour that a broken edit would violate.
//
// Placeholders (chosen so they can never be valid C++, CMake or Markdown by accident):
//   @NAME@    the plugin name as written in experiments     my-attack
//   @TARGET@  the CMake target and library base name        my_attack -> libmy_attack.so
//   @CLASS@   the C++ class name                            MyAttack

namespace medadv::host {

namespace {

constexpr std::size_t kMaxNameLength = 64;

struct Names {
  std::string name, target, klass;
};

std::string target_of(const std::string& name) {
  std::string t = name;
  for (auto& c : t)
    if (c == '-') c = '_';
  return t;
}

std::string class_of(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return out;
}

std::string substitute(std::string_view text, const Names& n) {
  static constexpr std::string_view kName = "@NAME@", kTarget = "@TARGET@", kClass = "@CLASS@";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t at = text.find('@', i);
    if (at == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, at - i));
    const std::string_view rest = text.substr(at);
    if (rest.substr(0, kName.size()) == kName) {
      out += n.name;
      i = at + kName.size();
    } else if (rest.substr(0, kTarget.size()) == kTarget) {
      out += n.target;
      i = at + kTarget.size();
    } else if (rest.substr(0, kClass.size()) == kClass) {
      out += n.klass;
      i = at + kClass.size();
    } else {
      out += '@';
      i = at + 1;
    }
  }
  return out;
}

// What differs between kinds; CMakeLists.txt, the .cpp and the README are shared.
struct KindTemplate {
  const char* helper;     // the registration helper in plugin.h: attack, attack_term, ...
  const char* threat;     // extra registration argument (attacks only), else ""
  const char* summary;    // one line: registration and README
  const char* about;      // README: what it does, its parameters, where to go next
  const char* header;     // @TARGET@.h: the plugin class
  const char* test;       // test_@TARGET@.cpp
};

// ------------------------------------------------------------------------- attack

KindTemplate attack_template() {
  KindTemplate t;
  t.helper = "attack";
  t.threat = ",\n    medadv::ThreatModel::WhiteBox";
  t.summary = "One-step L-inf gradient-sign attack (FGSM)";
  t.about = R"TPL(A white-box attack: one step of size `epsilon` along the sign of the gradient of
the experiment's objective (Goodfellow et al., 2015, "FGSM"), clamped to the image
range [0,1]. It optimises whatever `Objective` the experiment gives it (cross-entropy,
CW margin, DLR, targeted or not, plus any add-on attack terms), so it needs no code
for those cases.

| parameter | type | default | meaning |
|-----------|------|---------|---------|
| `epsilon` | epsilon in [0, 1] | `"8/255"` | L-inf radius, in [0,1] pixel units (a number or a fraction) |

Natural next steps: several steps with projection (PGD), a random start, early
stopping once `objective.success(...)` holds.)TPL";
  t.header = R"TPL(#pragma once
// @NAME@: a one-step L-inf gradient-sign attack (FGSM, Goodfellow et al., 2015).
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <cstdint>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::Attack {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_epsilon("epsilon", "8/255", "L-inf radius of the perturbation, in [0,1] pixel units").max(1.0);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/) : epsilon_(p.get_float("epsilon")) {}

  medadv::AttackResult run(const medadv::AttackBatch& batch, medadv::Capability& cap,
                           const medadv::Objective& objective, medadv::RunContext& /*ctx*/) override {
    // The victim (white-box). The host has already put any preprocessing defense (with
    // BPDA) and randomized wrapper in front of it, so no special cases are needed here.
    medadv::DifferentiableModel& model = cap.gradient_model();
    const torch::Tensor clean = batch.images.detach();
    const torch::Tensor x = clean.clone().requires_grad_(true);

    // One forward that also computes the taps any add-on terms of the objective read.
    const medadv::ModelOutput out = model.forward(x, objective.required_taps());
    // Samples are independent, so the gradient of the sum is each sample's own gradient.
    const torch::Tensor total = objective.evaluate(out, x, batch.labels, batch.targets).sum();
    // Gradient w.r.t. the input only: backward() would also fill the frozen weights' .grad.
    const torch::Tensor grad = torch::autograd::grad({total}, {x})[0];

    torch::NoGradGuard no_grad;
    medadv::AttackResult r;
    // The clean image is in [0,1], so clamping keeps the step inside the epsilon ball.
    r.adversarial = (clean + epsilon_ * grad.sign()).clamp(0.0, 1.0);
    r.success = objective.success(model.logits(r.adversarial), batch.labels, batch.targets);
    const auto counts = torch::TensorOptions().dtype(torch::kInt64).device(clean.device());
    r.iterations = torch::ones({clean.size(0)}, counts);
    r.queries = torch::zeros({clean.size(0)}, counts);  // white-box: no oracle queries
    return r;
  }

 private:
  double epsilon_;
};
)TPL";
  t.test = R"TPL(// Tests of @NAME@ on a tiny classifier: the properties every L-inf attack must keep,
// and evidence that it actually attacks.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

namespace {

// A victim, a batch of images it classifies, and their clean logits.
struct scenario {
  std::shared_ptr<medadv::ModuleModel> victim = std::make_shared<medadv::ModuleModel>(
      std::make_shared<medadv::testing::TinyClassifier>(3, 3, 0), 3, medadv::Task::Classification);
  medadv::AttackBatch batch;
  torch::Tensor clean_logits;

  scenario() {
    batch.images = medadv::testing::random_images(8, 3, 32, 1);
    torch::NoGradGuard no_grad;
    clean_logits = victim->logits(batch.images);
    // Labels = clean predictions: every sample starts correctly classified.
    batch.labels = clean_logits.argmax(1);
  }
};

TEST(@CLASS@, StaysInsideTheBudgetAndRaisesTheLoss) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ attack(params, ctx);
  scenario given;
  medadv::Capability cap = medadv::Capability::white_box(given.victim);
  const medadv::Objective objective(medadv::BaseLoss::CrossEntropy, /*targeted=*/false);

  const medadv::AttackResult r = attack.run(given.batch, cap, objective, ctx);

  const auto& clean = given.batch.images;
  ASSERT_EQ(r.adversarial.sizes().vec(), clean.sizes().vec());
  const double epsilon = params.get_float("epsilon");
  EXPECT_LE(medadv::metrics::linf_norm(clean, r.adversarial).max().item<double>(), epsilon + 1e-6);
  EXPECT_GE(r.adversarial.min().item<double>(), 0.0);
  EXPECT_LE(r.adversarial.max().item<double>(), 1.0);

  torch::NoGradGuard no_grad;
  const torch::Tensor adv_logits = given.victim->logits(r.adversarial);
  const auto& y = given.batch.labels;
  const double before = medadv::cross_entropy_per_sample(given.clean_logits, y).mean().item<double>();
  const double after = medadv::cross_entropy_per_sample(adv_logits, y).mean().item<double>();
  EXPECT_GT(after, before);

  ASSERT_EQ(r.success.numel(), 8);
  EXPECT_EQ(r.success.scalar_type(), torch::kBool);
  EXPECT_TRUE(torch::equal(r.success, adv_logits.argmax(1).ne(y)));
  EXPECT_EQ(r.iterations.scalar_type(), torch::kInt64);
  EXPECT_EQ(r.queries.scalar_type(), torch::kInt64);
  EXPECT_EQ(r.queries.sum().item<std::int64_t>(), 0);
  // Attacks take gradients w.r.t. the input only and leave the victim's weights alone.
  for (const auto& w : given.victim->module().parameters()) EXPECT_FALSE(w.grad().defined());
}

TEST(@CLASS@, ZeroEpsilonReturnsTheCleanImages) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params =
      s.resolve_or_throw(medadv::Value(medadv::Value::Table{{"epsilon", medadv::Value(0.0)}}), "@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ attack(params, ctx);
  scenario given;
  medadv::Capability cap = medadv::Capability::white_box(given.victim);
  const medadv::Objective objective(medadv::BaseLoss::CrossEntropy, false);
  const medadv::AttackResult r = attack.run(given.batch, cap, objective, ctx);
  EXPECT_TRUE(torch::equal(r.adversarial, given.batch.images));
  EXPECT_FALSE(r.success.any().item<bool>());
}

TEST(@CLASS@, SchemaRejectsAnEpsilonAboveOne) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  EXPECT_THROW(s.resolve_or_throw(medadv::Value(medadv::Value::Table{{"epsilon", medadv::Value("3/2")}}), "@NAME@"),
               medadv::InvalidInput);
}

}  // namespace
)TPL";
  return t;
}

// -------------------------------------------------------------------- attack-term

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
  static void schema(medadv::ParamSchema& s) {
    s.add_string("tap", "penultimate", "model tap whose mean activation the term moves");
    s.add_enum("direction", {"up", "down"}, "up", "raise (up) or lower (down) the tap's mean activation");
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/)
      : tap_(p.get_string("tap")), sign_(p.get_string("direction") == "up" ? 1.0 : -1.0) {}

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

// ------------------------------------------------------------------- preprocessor

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

// ------------------------------------------------------------------------ trainer

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

// ------------------------------------------------------------------------ wrapper

KindTemplate wrapper_template() {
  KindTemplate t;
  t.helper = "wrapper";
  t.threat = "";
  t.summary = "Averages logits over Gaussian-noised copies of the input";
  t.about = R"TPL(An inference-time defense: the wrapped model returns the mean logits over `samples`
copies of the input with Gaussian noise of standard deviation `sigma` added (clamped to
[0,1]), in the spirit of randomized smoothing (Cohen et al., 2019). With `sigma > 0` it
reports itself randomized, so attacks against it average gradients over the noise
(EOT). The noise comes from a generator seeded by the run, so results replay exactly.

| parameter | type | default | meaning |
|-----------|------|---------|---------|
| `sigma` | float >= 0 | `0.05` | noise standard deviation, in [0,1] pixel units |
| `samples` | int >= 1 | `8` | noisy forwards averaged per call |)TPL";
  t.header = R"TPL(#pragma once
// @NAME@: averages a model's logits over Gaussian-noised copies of the input.
//
// Implemented inline here so that test_@TARGET@.cpp can use the classes without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <medadv/medadv.h>

// The wrapped model that attacks and the evaluation see.
class @CLASS@Model : public medadv::DifferentiableModel {
 public:
  @CLASS@Model(std::shared_ptr<medadv::DifferentiableModel> base, double sigma, std::int64_t samples,
               std::uint64_t seed)
      : base_(std::move(base)), sigma_(sigma), samples_(samples), generator_(medadv::compat::cpu_generator(seed)) {}

  medadv::ModelOutput forward(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    // Without noise every copy is the same: one forward is enough.
    const std::int64_t n = sigma_ > 0.0 ? samples_ : 1;
    medadv::ModelOutput out;
    torch::Tensor sum;
    for (std::int64_t i = 0; i < n; ++i) {
      // Taps come from the first copy only: detectors and attack terms read one
      // consistent forward instead of paying for every copy's features.
      medadv::ModelOutput o = base_->forward(noisy(x), i == 0 ? taps : std::vector<std::string>{});
      if (i == 0) {
        out.taps = std::move(o.taps);
        sum = o.logits;
      } else {
        sum = sum + o.logits;
      }
    }
    out.logits = sum / static_cast<double>(n);
    // The "logits" tap must agree with the logits the wrapper returns.
    if (auto it = out.taps.find("logits"); it != out.taps.end()) it->second = out.logits;
    return out;
  }

  std::vector<std::string> tap_names() const override { return base_->tap_names(); }
  std::int64_t num_classes() const override { return base_->num_classes(); }
  medadv::Task task() const override { return base_->task(); }
  bool randomized() const override { return sigma_ > 0.0; }

 private:
  torch::Tensor noisy(const torch::Tensor& x) {
    if (sigma_ == 0.0) return x;
    // Drawn on the CPU from the run-seeded generator, so a run replays exactly on any
    // device; the noise is a constant, gradients flow through x.
    const torch::Tensor noise = torch::randn(x.sizes(), generator_, x.options().device(torch::kCPU));
    return (x + sigma_ * noise.to(x.device())).clamp(0.0, 1.0);
  }

  std::shared_ptr<medadv::DifferentiableModel> base_;
  double sigma_;
  std::int64_t samples_;
  at::Generator generator_;
};

class @CLASS@ : public medadv::Wrapper {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_float("sigma", 0.05, "standard deviation of the Gaussian noise, in [0,1] pixel units").min(0.0);
    s.add_int("samples", 8, "noisy copies averaged per forward").min(1).max(10000);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/)
      : sigma_(p.get_float("sigma")), samples_(p.get_int("samples")) {}

  std::shared_ptr<medadv::DifferentiableModel> wrap(std::shared_ptr<medadv::DifferentiableModel> model,
                                                    medadv::RunContext& ctx) override {
    return std::make_shared<@CLASS@Model>(std::move(model), sigma_, samples_, ctx.seed_for("wrapper/@NAME@"));
  }

  bool randomized() const override { return sigma_ > 0.0; }

 private:
  double sigma_;
  std::int64_t samples_;
};
)TPL";
  t.test = R"TPL(// Tests of @NAME@ around a tiny classifier.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

namespace {

std::shared_ptr<medadv::ModuleModel> tiny_model() {
  return std::make_shared<medadv::ModuleModel>(std::make_shared<medadv::testing::TinyClassifier>(3, 3, 0), 3,
                                               medadv::Task::Classification);
}

TEST(@CLASS@, WithoutNoiseItIsTheBaseModel) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params =
      s.resolve_or_throw(medadv::Value(medadv::Value::Table{{"sigma", medadv::Value(0.0)}}), "@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ wrapper(params, ctx);
  auto base = tiny_model();
  auto wrapped = wrapper.wrap(base, ctx);
  EXPECT_FALSE(wrapper.randomized());
  EXPECT_FALSE(wrapped->randomized());
  const torch::Tensor x = medadv::testing::random_images(4, 3, 32, 1);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(wrapped->logits(x), base->logits(x)));
}

TEST(@CLASS@, AveragesNoisyForwardsWithGradients) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ wrapper(params, ctx);
  auto wrapped = wrapper.wrap(tiny_model(), ctx);
  EXPECT_TRUE(wrapper.randomized());
  EXPECT_TRUE(wrapped->randomized());

  const torch::Tensor x = medadv::testing::random_images(4, 3, 32, 1).requires_grad_(true);
  const medadv::ModelOutput out = wrapped->forward(x, {"penultimate"});
  EXPECT_EQ(out.logits.sizes().vec(), (std::vector<std::int64_t>{4, 3}));
  EXPECT_EQ(out.tap("penultimate").size(0), 4);
  // EOT attacks differentiate through the noisy copies.
  const torch::Tensor grad = torch::autograd::grad({out.logits.sum()}, {x})[0];
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
  // Fresh noise on every call.
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(torch::equal(wrapped->logits(x), wrapped->logits(x)));
}

TEST(@CLASS@, SameSeedSameNoise) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx_a(7), ctx_b(7);
  @CLASS@ a(params, ctx_a), b(params, ctx_b);
  auto base = tiny_model();
  const torch::Tensor x = medadv::testing::random_images(4, 3, 32, 1);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(a.wrap(base, ctx_a)->logits(x), b.wrap(base, ctx_b)->logits(x)));
}

}  // namespace
)TPL";
  return t;
}

// ----------------------------------------------------------------------- detector

KindTemplate detector_template() {
  KindTemplate t;
  t.helper = "detector";
  t.threat = "";
  t.summary = "Maximum-softmax uncertainty score (Hendrycks and Gimpel)";
  t.about = R"TPL(An unsupervised detector: the score is `1 - max softmax(logits / temperature)`
(Hendrycks and Gimpel, 2017), between 0 (confident) and 1 - 1/K (uniform over K
classes); higher means more likely adversarial. It never sees adversarial data and is
differentiable, so adaptive attacks can evade it with a detector-evasion term.

| parameter | type | default | meaning |
|-----------|------|---------|---------|
| `temperature` | float > 0 | `1.0` | divides the logits before the softmax; above 1 flattens it |

A supervised detector would return `supervised() == true`, read the taps it needs via
`taps(available)` and fit on `data.clean` and `data.adversarial` in `fit()`.)TPL";
  t.header = R"TPL(#pragma once
// @NAME@: maximum-softmax uncertainty detector (Hendrycks and Gimpel, 2017).
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::Detector {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_float("temperature", 1.0, "divides the logits before the softmax; above 1 flattens it")
        .min_exclusive(0.0);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/) : temperature_(p.get_float("temperature")) {}

  // The logits are all it reads, and every forward returns them.
  std::vector<std::string> taps(const std::vector<std::string>& /*available*/) const override { return {}; }

  bool supervised() const override { return false; }
  bool differentiable() const override { return true; }

  void fit(medadv::DifferentiableModel& model, const medadv::DetectorFitData& data, medadv::RunContext& ctx,
           medadv::AttackFactory* /*attacks*/) override {
    // Nothing to learn. The clean mean score is logged as a reference for thresholds;
    // in chunks, since the fit split may not fit in memory in one forward.
    torch::NoGradGuard no_grad;
    double total = 0.0;
    for (const torch::Tensor& chunk : data.clean.split(256))
      total += score(model, chunk.to(ctx.device())).sum().item<double>();
    ctx.log().info("@NAME@: mean score on " + std::to_string(data.clean.size(0)) + " clean images: " +
                   std::to_string(total / static_cast<double>(data.clean.size(0))));
  }

  torch::Tensor score(medadv::DifferentiableModel& model, const torch::Tensor& x) override {
    const torch::Tensor probs = torch::softmax(model.logits(x) / temperature_, 1);
    const torch::Tensor s = 1.0 - std::get<0>(probs.max(1));
    // Segmentation logits give a score per pixel: average them to one per image.
    return s.dim() > 1 ? s.flatten(1).mean(1) : s;
  }

 private:
  double temperature_;
};
)TPL";
  t.test = R"TPL(// Tests of @NAME@: the score's range, closed-form values and its dependence on the
// temperature.
#include "@TARGET@.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

namespace {

// Logits scale * mean(x) * (1, 0, -1): confident on bright inputs, uniform on black ones.
class sharp_model : public medadv::TappedModule {
 public:
  explicit sharp_model(double scale) : scale_(scale) {}
  std::vector<std::string> tap_names() const override { return {"logits"}; }
  medadv::ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    for (const auto& t : taps)
      if (t != "logits") throw medadv::Error("sharp_model has no tap '" + t + "'");
    medadv::ModelOutput out;
    out.logits = scale_ * x.flatten(1).mean(1, /*keepdim=*/true) * torch::tensor({1.0f, 0.0f, -1.0f});
    if (!taps.empty()) out.taps["logits"] = out.logits;
    return out;
  }

 private:
  double scale_;
};

medadv::Params params_with(medadv::Value::Table overrides) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  return s.resolve_or_throw(medadv::Value(std::move(overrides)), "@NAME@");
}

TEST(@CLASS@, ScoresInRangeAndRisingWithTemperature) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ cold(params, ctx);
  @CLASS@ hot(params_with({{"temperature", medadv::Value(10.0)}}), ctx);
  medadv::ModuleModel model(std::make_shared<medadv::testing::TinyClassifier>(3, 3, 0), 3,
                            medadv::Task::Classification);
  EXPECT_FALSE(cold.supervised());

  medadv::DetectorFitData data;  // no adversarial data: the detector is unsupervised
  data.clean = medadv::testing::random_images(16, 3, 32, 1);
  data.labels = torch::arange(16, torch::kInt64) % 3;
  EXPECT_NO_THROW(cold.fit(model, data, ctx, nullptr));

  torch::NoGradGuard no_grad;
  const torch::Tensor x = medadv::testing::random_images(8, 3, 32, 2);
  const torch::Tensor s1 = cold.score(model, x);
  const torch::Tensor s10 = hot.score(model, x);
  ASSERT_EQ(s1.sizes().vec(), std::vector<std::int64_t>{8});
  EXPECT_GE(s1.min().item<double>(), 0.0);
  EXPECT_LE(s1.max().item<double>(), 1.0 - 1.0 / 3.0 + 1e-6);
  // A higher temperature flattens the softmax, so every score rises.
  EXPECT_TRUE((s1 < s10).all().item<bool>());
}

TEST(@CLASS@, ClosedFormScoresAndGradient) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  medadv::testing::TestContext ctx;
  @CLASS@ detector(s.defaults("@NAME@"), ctx);
  medadv::ModuleModel model(std::make_shared<sharp_model>(40.0), 3, medadv::Task::Classification);

  // Bright: logits (40, 0, -40), the model is certain, the score is ~e^-40.
  EXPECT_LT(detector.score(model, torch::ones({2, 3, 8, 8})).max().item<double>(), 1e-6);
  // Black: equal logits, the score is 1 - 1/3.
  EXPECT_TRUE(torch::allclose(detector.score(model, torch::zeros({2, 3, 8, 8})), torch::full({2}, 2.0f / 3.0f)));

  // differentiable() promises a gradient to the input for detector-evasion attacks.
  ASSERT_TRUE(detector.differentiable());
  const torch::Tensor x = torch::full({2, 3, 8, 8}, 0.05f).requires_grad_(true);
  const torch::Tensor grad = torch::autograd::grad({detector.score(model, x).sum()}, {x})[0];
  EXPECT_TRUE(torch::isfinite(grad).all().item<bool>());
  EXPECT_LT(grad.sum().item<double>(), 0.0);  // brighter -> more confident -> lower score
}

}  // namespace
)TPL";
  return t;
}

// ------------------------------------------------------------------------ dataset

KindTemplate dataset_template() {
  KindTemplate t;
  t.helper = "dataset";
  t.threat = "";
  t.summary = "Procedural bright-blob phantom with lesion masks";
  t.about = R"TPL(A synthetic data set that needs no files: smooth random backgrounds, and in a
`lesion_fraction` of the images a small bright disk at a random position (label 1,
"lesion"; the others are label 0, "healthy"). The disk's mask is returned in `masks`,
so lesion-localised attacks and reports can use it. Generated from the run's seed: the
same seed gives the same images.

| parameter | type | default | meaning |
|-----------|------|---------|---------|
| `count` | int >= 2 | `64` | number of images |
| `image_size` | int in [8, 1024] | `32` | height and width in pixels |
| `channels` | int in [1, 3] | `1` | 1 (grey) to 3 channels |
| `lesion_fraction` | float in [0, 1] | `0.5` | fraction of images with a lesion |

A data set read from disk would take a `path` parameter (`s.add_string("path", "",
"...").required()`), decode once into `ctx.cache_dir()`, and return its own splits in
`predefined_splits` if it has them.)TPL";
  t.header = R"TPL(#pragma once
// @NAME@: a procedural "bright blob" phantom data set with lesion masks.
//
// Implemented inline here so that test_@TARGET@.cpp can use the class without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <medadv/medadv.h>

class @CLASS@ : public medadv::Dataset {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_int("count", 64, "number of images").min(2);
    s.add_int("image_size", 32, "height and width in pixels").min(8).max(1024);
    s.add_int("channels", 1, "image channels: 1 (grey) to 3").min(1).max(3);
    s.add_float("lesion_fraction", 0.5, "fraction of images that contain a lesion (label 1)").min(0.0).max(1.0);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/)
      : count_(p.get_int("count")),
        size_(p.get_int("image_size")),
        channels_(p.get_int("channels")),
        lesion_fraction_(p.get_float("lesion_fraction")) {}

  medadv::DatasetContents load(medadv::RunContext& ctx) override {
    // A stream of its own, derived from the run's seed: the same seed gives the same
    // images whatever else in the run draws random numbers.
    at::Generator gen = medadv::compat::cpu_generator(ctx.seed_for("dataset/@NAME@"));
    const std::int64_t n = count_, s = size_, c = channels_;
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);

    // Smooth background: coarse noise upsampled, texture without edges, in [0.15, 0.5]
    // so that the lesion stays the brightest thing in the image.
    const std::int64_t coarse = std::max<std::int64_t>(2, s / 8);
    torch::Tensor background = torch::rand({n, c, coarse, coarse}, gen, f32);
    background = torch::nn::functional::interpolate(background, torch::nn::functional::InterpolateFuncOptions()
                                                                    .size(std::vector<std::int64_t>{s, s})
                                                                    .mode(torch::kBilinear)
                                                                    .align_corners(false));
    background = 0.15 + 0.35 * background;

    // Exactly round(fraction * n) lesion images, at shuffled indices.
    const auto lesions = static_cast<std::int64_t>(std::llround(lesion_fraction_ * static_cast<double>(n)));
    torch::Tensor labels = torch::zeros({n}, torch::kInt64);
    labels.index_fill_(0, torch::randperm(n, gen).slice(0, 0, lesions), 1);

    // One disk per image, entirely inside it; kept only where the label is 1.
    const std::int64_t radius = std::max<std::int64_t>(2, s / 10);
    const torch::Tensor cy = torch::randint(radius, s - radius, {n, 1, 1}, gen).to(torch::kFloat32);
    const torch::Tensor cx = torch::randint(radius, s - radius, {n, 1, 1}, gen).to(torch::kFloat32);
    const torch::Tensor grid = torch::arange(s, f32);
    const torch::Tensor dist2 = (grid.view({1, s, 1}) - cy).pow(2) + (grid.view({1, 1, s}) - cx).pow(2);
    const torch::Tensor disk = dist2.le(static_cast<double>(radius * radius)).to(torch::kFloat32);
    const torch::Tensor masks = (disk * labels.to(torch::kFloat32).view({n, 1, 1})).unsqueeze(1);  // [N,1,H,W]

    medadv::DatasetContents d;
    d.images = (background * (1.0 - masks) + 0.9 * masks).clamp(0.0, 1.0);
    d.labels = labels;
    d.masks = masks;
    d.meta.task = medadv::Task::Classification;
    d.meta.class_names = {"healthy", "lesion"};
    d.meta.modality = "synthetic";
    return d;
  }

 private:
  std::int64_t count_, size_, channels_;
  double lesion_fraction_;
};
)TPL";
  t.test = R"TPL(// Tests of @NAME@: determinism, shapes, ranges, labels and masks.
#include "@TARGET@.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

namespace {

TEST(@CLASS@, DeterministicWellFormedPhantoms) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ dataset(params, ctx);

  const medadv::DatasetContents a = dataset.load(ctx);
  const medadv::DatasetContents b = dataset.load(ctx);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));

  const std::int64_t n = params.get_int("count"), size = params.get_int("image_size");
  ASSERT_EQ(a.images.sizes().vec(), (std::vector<std::int64_t>{n, params.get_int("channels"), size, size}));
  ASSERT_EQ(a.labels.sizes().vec(), std::vector<std::int64_t>{n});
  ASSERT_EQ(a.masks.sizes().vec(), (std::vector<std::int64_t>{n, 1, size, size}));
  EXPECT_EQ(a.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(a.labels.scalar_type(), torch::kInt64);
  EXPECT_GE(a.images.min().item<double>(), 0.0);
  EXPECT_LE(a.images.max().item<double>(), 1.0);
  EXPECT_EQ(a.meta.class_names.size(), 2u);

  const double fraction = a.labels.to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(fraction, params.get_float("lesion_fraction"), 1.0 / static_cast<double>(n) + 1e-9);
  // A mask is non-empty exactly for the lesion images.
  EXPECT_TRUE(torch::equal(a.masks.flatten(1).sum(1).gt(0), a.labels.eq(1)));
  // The lesion is brighter than any background pixel.
  const torch::Tensor inside = a.masks.to(torch::kBool).expand_as(a.images);
  EXPECT_GT(a.images.masked_select(inside).min().item<double>(),
            a.images.masked_select(inside.logical_not()).max().item<double>());
}

TEST(@CLASS@, AnotherSeedGivesOtherImages) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx0(0), ctx1(1);
  @CLASS@ dataset(params, ctx0);
  EXPECT_FALSE(torch::equal(dataset.load(ctx0).images, dataset.load(ctx1).images));
}

}  // namespace
)TPL";
  return t;
}

// -------------------------------------------------------------------------- model

KindTemplate model_template() {
  KindTemplate t;
  t.helper = "model";
  t.threat = "";
  t.summary = "Small two-block CNN with feature taps";
  t.about = R"TPL(A model architecture: two convolution blocks (conv 3x3, batch norm, ReLU, 2x2 max
pool) with `width` and `2 * width` channels, global average pooling and a linear
classifier. Its taps, readable by detectors and attack terms in the same forward:
`block1`, `block2`, `penultimate` (the pooled features) and `logits`. Inputs are in
[0,1]; normalisation happens inside the model, `(x - 0.5) / 0.5` unless the experiment
gives a per-channel mean and std. Global pooling makes it work at any image size >= 4.

| parameter | type | default | meaning |
|-----------|------|---------|---------|
| `width` | int in [1, 1024] | `16` | channels of the first block (the second has twice as many) |)TPL";
  t.header = R"TPL(#pragma once
// @NAME@: a small CNN with named feature taps.
//
// Implemented inline here so that test_@TARGET@.cpp can use the classes without the
// library's entry symbol; @TARGET@.cpp registers it.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <medadv/medadv.h>

class @CLASS@Net : public medadv::TappedModule {
 public:
  @CLASS@Net(const medadv::ModelSpec& spec, std::int64_t width) {
    if (spec.task != medadv::Task::Classification)
      throw medadv::InvalidInput("@NAME@ builds classifiers only, not segmentation models");
    namespace nn = torch::nn;
    conv1_ = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(spec.channels, width, 3).padding(1).bias(false)));
    bn1_ = register_module("bn1", nn::BatchNorm2d(width));
    conv2_ = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(width, 2 * width, 3).padding(1).bias(false)));
    bn2_ = register_module("bn2", nn::BatchNorm2d(2 * width));
    fc_ = register_module("fc", nn::Linear(2 * width, spec.num_classes));
    // Buffers, not parameters: saved with the weights and moved with the model, never trained.
    mean_ = register_buffer("mean", per_channel(spec.mean, spec.channels, "mean", false));
    std_ = register_buffer("std", per_channel(spec.std, spec.channels, "std", true));
  }

  std::vector<std::string> tap_names() const override { return {"block1", "block2", "penultimate", "logits"}; }

  medadv::ModelOutput forward_taps(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    const std::vector<std::string> names = tap_names();
    for (const auto& t : taps)
      if (std::find(names.begin(), names.end(), t) == names.end())
        throw medadv::Error("@NAME@ has no tap '" + t + "'" + medadv::did_you_mean(t, names) +
                            "; its taps: block1, block2, penultimate, logits");
    auto want = [&](const char* name) { return std::find(taps.begin(), taps.end(), name) != taps.end(); };

    medadv::ModelOutput out;
    // Attacks work in [0,1] pixel space, so normalisation belongs inside the model.
    torch::Tensor h = (x - mean_) / std_;
    h = torch::max_pool2d(torch::relu(bn1_->forward(conv1_->forward(h))), 2);
    if (want("block1")) out.taps["block1"] = h;
    h = torch::max_pool2d(torch::relu(bn2_->forward(conv2_->forward(h))), 2);
    if (want("block2")) out.taps["block2"] = h;
    // Global average pooling: the classifier does not depend on the image size.
    h = h.mean({2, 3});
    if (want("penultimate")) out.taps["penultimate"] = h;
    out.logits = fc_->forward(h);
    if (want("logits")) out.taps["logits"] = out.logits;
    return out;
  }

 private:
  // [1,C,1,1] from the spec's per-channel values: none (0.5), one for all, or one each.
  static torch::Tensor per_channel(const std::vector<double>& values, std::int64_t channels, const char* what,
                                   bool positive) {
    const auto c = static_cast<std::size_t>(channels);
    if (values.size() > 1 && values.size() != c)
      throw medadv::InvalidInput(std::string("@NAME@: ") + what + " has " + std::to_string(values.size()) +
                                 " values for " + std::to_string(c) + " channels");
    std::vector<float> v(c, 0.5f);
    for (std::size_t i = 0; i < c && !values.empty(); ++i) {
      v[i] = static_cast<float>(values.size() == 1 ? values[0] : values[i]);
      if (positive && !(v[i] > 0.0f))
        throw medadv::InvalidInput(std::string("@NAME@: ") + what + " values must be positive");
    }
    return torch::tensor(v).view({1, channels, 1, 1});
  }

  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Linear fc_{nullptr};
  torch::Tensor mean_, std_;
};

// The plugin is the architecture factory; the host builds one model per experiment.
class @CLASS@ : public medadv::ModelPlugin {
 public:
  static void schema(medadv::ParamSchema& s) {
    s.add_int("width", 16, "channels of the first block (the second has twice as many)").min(1).max(1024);
  }

  @CLASS@(const medadv::Params& p, medadv::RunContext& /*ctx*/) : width_(p.get_int("width")) {}

  std::shared_ptr<medadv::TappedModule> build(const medadv::ModelSpec& spec) override {
    return std::make_shared<@CLASS@Net>(spec, width_);
  }

 private:
  std::int64_t width_;
};
)TPL";
  t.test = R"TPL(// Tests of @NAME@: shapes at two image sizes, taps, normalisation.
#include "@TARGET@.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <medadv/testing.h>

namespace {

TEST(@CLASS@, LogitsAndTapsAtTwoImageSizes) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  const auto params = s.defaults("@NAME@");
  medadv::testing::TestContext ctx;
  @CLASS@ factory(params, ctx);
  auto net = factory.build(medadv::ModelSpec{3, 4, 32, medadv::Task::Classification, {}, {}});
  net->eval();
  torch::NoGradGuard no_grad;
  for (const std::int64_t size : {32, 48}) {
    const medadv::ModelOutput out =
        net->forward_taps(medadv::testing::random_images(2, 3, size, 1), net->tap_names());
    EXPECT_EQ(out.logits.sizes().vec(), (std::vector<std::int64_t>{2, 4})) << "image size " << size;
    EXPECT_TRUE(torch::isfinite(out.logits).all().item<bool>());
    for (const auto& tap : net->tap_names()) {
      ASSERT_EQ(out.taps.count(tap), 1u) << "tap " << tap << " at image size " << size;
      EXPECT_EQ(out.taps.at(tap).size(0), 2) << "tap " << tap << " at image size " << size;
    }
  }
  EXPECT_THROW(net->forward_taps(medadv::testing::random_images(2, 3, 32, 1), {"no-such-tap"}), medadv::Error);
}

TEST(@CLASS@, NormalisationFollowsTheSpec) {
  medadv::ParamSchema s;
  @CLASS@::schema(s);
  medadv::testing::TestContext ctx;
  @CLASS@ factory(s.defaults("@NAME@"), ctx);
  auto build = [&](std::vector<double> mean, std::vector<double> std) {
    torch::manual_seed(0);  // same weights for every build
    auto net = factory.build(medadv::ModelSpec{3, 2, 32, medadv::Task::Classification, mean, std});
    net->eval();
    return net;
  };
  const torch::Tensor x = medadv::testing::random_images(2, 3, 32, 1);
  torch::NoGradGuard no_grad;
  const torch::Tensor by_default = build({}, {})->forward(x);
  // (x - 0.5) / 0.5 is the default, so spelling it out changes nothing; another mean does.
  EXPECT_TRUE(torch::allclose(build({0.5, 0.5, 0.5}, {0.5})->forward(x), by_default));
  EXPECT_FALSE(torch::allclose(build({0.2}, {0.5})->forward(x), by_default));
  EXPECT_THROW(build({0.5, 0.5}, {}), medadv::InvalidInput);
  EXPECT_THROW(factory.build(medadv::ModelSpec{3, 2, 32, medadv::Task::Segmentation, {}, {}}), medadv::InvalidInput);
}

}  // namespace
)TPL";
  return t;
}

KindTemplate template_for(Kind kind) {
  switch (kind) {
    case Kind::Attack: return attack_template();
    case Kind::AttackTerm: return attack_term_template();
    case Kind::Preprocessor: return preprocessor_template();
    case Kind::Trainer: return trainer_template();
    case Kind::Wrapper: return wrapper_template();
    case Kind::Detector: return detector_template();
    case Kind::Dataset: return dataset_template();
    case Kind::Model: return model_template();
  }
  throw InvalidInput("medadv new: unknown plugin kind " + std::to_string(static_cast<std::uint32_t>(kind)));
}

// ------------------------------------------------------------ shared files

std::string cmake_lists() {
  return R"TPL(# The medadv plugin "@NAME@", built out of tree against an installed medadv:
#   cmake -S @NAME@ -B @NAME@/build -DCMAKE_PREFIX_PATH=<medadv prefix> && cmake --build @NAME@/build
cmake_minimum_required(VERSION 3.25)
project(@TARGET@ LANGUAGES CXX)

# The SDK headers and runtime (MedAdv::sdk), the LibTorch medadv was built with, and
# medadv_add_plugin(). Building against that same LibTorch is what lets medadv load
# the library.
find_package(MedAdvSDK REQUIRED)

# lib@TARGET@.so: a MODULE compiled with hidden visibility, so the entry symbol
# written by MEDADV_PLUGINS(...) in @TARGET@.cpp is its only export.
medadv_add_plugin(@TARGET@ SOURCES @TARGET@.cpp)

# The test compiles the header-only plugin class into its own executable (no entry
# symbol, no loading), so it can call the class directly. Without GoogleTest the test
# is skipped and the plugin still builds.
include(CTest)
find_package(GTest)
if(BUILD_TESTING AND GTest_FOUND)
  add_executable(test_@TARGET@ test_@TARGET@.cpp)
  target_link_libraries(test_@TARGET@ PRIVATE MedAdv::sdk GTest::gtest_main)
  add_test(NAME test_@TARGET@ COMMAND test_@TARGET@)
endif()
)TPL";
}

std::string plugin_source(const KindTemplate& t) {
  return std::string(R"TPL(// Registers the @NAME@ plugin. The class lives in @TARGET@.h so that
// test_@TARGET@.cpp can use it without this library's entry symbol. A library has
// exactly one MEDADV_PLUGINS line; to ship several plugins together, list them all in it.
#include "@TARGET@.h"

MEDADV_PLUGINS(medadv::)TPL") +
         t.helper + "<@CLASS@>(\n    \"@NAME@\", \"0.1.0\", \"" + t.summary + "\"" + t.threat + "))\n";
}

std::string readme(Kind kind, const KindTemplate& t) {
  return "# @NAME@\n\n" + std::string(t.summary) + ": a medadv " + kind_name(kind) + " plugin.\n\n" + t.about +
         "\n" + R"TPL(
## Files

- `@TARGET@.h`: the plugin class, implemented in the header so the test can include it.
- `@TARGET@.cpp`: the registration line (`MEDADV_PLUGINS`): name, version, summary.
- `test_@TARGET@.cpp`: a GoogleTest test of the plugin's behaviour.
- `CMakeLists.txt`: builds `lib@TARGET@.so` with `medadv_add_plugin()` and the test.

## Build, test, check

From the directory that contains `@NAME@/`, where `<medadv prefix>` is the prefix
medadv was installed to (the one holding `lib/cmake/MedAdvSDK`, e.g. `/usr/local`):

```sh
cmake -S @NAME@ -B @NAME@/build -DCMAKE_PREFIX_PATH=<medadv prefix> && cmake --build @NAME@/build
ctest --test-dir @NAME@/build --output-on-failure
medadv plugins check @NAME@/build/lib@TARGET@.so
medadv plugins list --plugin-path @NAME@/build
```

The test needs GoogleTest (Debian/Ubuntu: `libgtest-dev`); without it `ctest` finds no
tests. `medadv plugins check` loads the library in a child process, checks its ABI,
SDK, LibTorch and C++ ABI tags and its parameter schema, and smoke-runs the plugin on
a tiny synthetic batch. `medadv plugins list --plugin-path @NAME@/build` shows it the
way experiments will see it, and `medadv plugins info @NAME@ --plugin-path @NAME@/build`
prints its parameters.

## Install

Copy the library into your user plugin directory, where every medadv command finds it:

```sh
mkdir -p ~/.local/share/medadv/plugins
cp @NAME@/build/lib@TARGET@.so ~/.local/share/medadv/plugins/
```

(`$XDG_DATA_HOME/medadv/plugins` when `XDG_DATA_HOME` is set; `--plugin-path DIR` or
`MEDADV_PLUGIN_PATH` work without copying.) Experiments then refer to it as `@NAME@`.

## Share

- Send `lib@TARGET@.so` to a collaborator whose medadv has the same plugin ABI (major
  version) and the same LibTorch version, built with the same C++ ABI; their
  `medadv plugins check lib@TARGET@.so` says whether it loads.
- Otherwise send this folder (without `build/`); they build it as above against their
  own medadv.
)TPL";
}

}  // namespace

void validate_plugin_name(const std::string& name) {
  const std::string shown = "'" + name + "'";
  if (name.empty())
    throw InvalidInput("plugin name is empty; use lower-case letters, digits and '-', e.g. my-attack");
  if (name.size() > kMaxNameLength)
    throw InvalidInput("plugin name " + shown + " is " + std::to_string(name.size()) + " characters long; at most " +
                       std::to_string(kMaxNameLength) + " are allowed");
  if (name.front() < 'a' || name.front() > 'z')
    throw InvalidInput("plugin name " + shown + " must start with a lower-case letter (a-z)");
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok)
      throw InvalidInput("plugin name " + shown + " has '" + std::string(1, c) + "' at position " +
                         std::to_string(i + 1) + "; only lower-case letters, digits and '-' are allowed");
  }
  if (name.back() == '-') throw InvalidInput("plugin name " + shown + " must not end with '-'");
  // The name becomes a CMake target in the generated project: these would clash with
  // targets that CMake, CTest or LibTorch's package already define.
  static const char* const reserved[] = {
      "all", "clean", "help", "install", "install_local", "install_strip", "preinstall", "list_install_components",
      "test", "package", "package_source", "edit_cache", "rebuild_cache",                        // CMake, CTest
      "torch", "torch_cpu", "torch_cuda", "torch_library", "torch_cpu_library", "c10", "c10_cuda",  // LibTorch
      "gflags", "cuda_target", "dummy"};
  const std::string target = target_of(name);
  for (const char* r : reserved)
    if (target == r)
      throw InvalidInput("plugin name " + shown + " would make the CMake target '" + target +
                         "', which CMake or LibTorch already uses; choose another name");
}

std::vector<ScaffoldFile> scaffold_plugin(Kind kind, const std::string& name) {
  validate_plugin_name(name);
  const Names names{name, target_of(name), class_of(name)};
  const KindTemplate t = template_for(kind);
  return {
      {"CMakeLists.txt", substitute(cmake_lists(), names)},
      {names.target + ".h", substitute(t.header, names)},
      {names.target + ".cpp", substitute(plugin_source(t), names)},
      {"test_" + names.target + ".cpp", substitute(t.test, names)},
      {"README.md", substitute(readme(kind, t), names)},
  };
}

}  // namespace medadv::host
