// The gradient family's iterative members (bim, mim, dim, tim as presets of one attack
// with pgd) and the universal perturbation (uap): presets, budgets, oracles for each
// option (momentum, input diversity, translation smoothing, the UAP update),
// determinism, and strength on the trained fundus CNN.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <medadv/metrics.h>
#include <medadv/testing.h>

#include "attacks/gradient/bim.h"
#include "attacks/gradient/dim.h"
#include "attacks/gradient/fgsm.h"
#include "attacks/gradient/mim.h"
#include "attacks/gradient/pgd.h"
#include "attacks/gradient/tim.h"
#include "attacks/gradient/uap.h"
#include "attack_test_kit.h"
#include "trained_victims.h"

// Oracle tests build their models on the CPU and pin their contexts to it
// (TestContext(torch::kCPU)), so that they check the same thing under MEDADV_TEST_DEVICE=cuda;
// the tests on trained victims run on the tests' device.
namespace {

namespace g = medadv::plugins::gradient;
namespace metrics = medadv::metrics;
using namespace medadv::attack_testing;

std::shared_ptr<medadv::testing::TinyClassifier> tiny(std::int64_t channels, std::int64_t classes, std::uint64_t seed) {
  auto model = std::make_shared<medadv::testing::TinyClassifier>(channels, classes, seed);
  model->eval();
  return model;
}

// Fits a Uap on (images, labels) in batches of `batch_size`, with `ctx` kept for run().
void fit_uap(g::Uap& uap, std::shared_ptr<medadv::TappedModule> module, std::int64_t classes,
             const torch::Tensor& images, const torch::Tensor& labels, std::int64_t batch_size,
             medadv::RunContext& ctx, const Objective& objective = Objective(BaseLoss::CrossEntropy, false)) {
  Capability cap = Capability::white_box(std::make_shared<ModuleModel>(module, classes, medadv::Task::Classification));
  uap.fit(*medadv::tensor_batches(images, labels), {}, batch_size, cap, objective, ctx);
}

// Runs `attack` on rows [begin, end) of `batch` and returns the adversarial rows.
torch::Tensor run_rows(medadv::Attack& attack, std::shared_ptr<medadv::TappedModule> module, std::int64_t classes,
                       const AttackBatch& batch, std::int64_t begin, std::int64_t end, medadv::RunContext& ctx) {
  const AttackBatch part{batch.images.slice(0, begin, end), batch.labels.slice(0, begin, end), {}};
  return attack_with(attack, std::move(module), classes, part, Objective(BaseLoss::CrossEntropy, false), ctx)
      .adversarial;
}

template <class T>
g::IterativeOptions options_of(const char* name, Value::Table overrides = {}) {
  medadv::testing::TestContext ctx;
  return T(params_of<T>(name, std::move(overrides)), ctx).options();
}

template <class T>
AttackResult run_on(const char* name, Value::Table overrides, const AttackBatch& batch, Capability& cap,
                    const Objective& objective, medadv::RunContext& ctx) {
  T attack(params_of<T>(name, std::move(overrides)), ctx);
  return attack.run(batch, cap, objective, ctx);
}

// BIM with `p` run through the family's projected loop with the step hooks `hooks` adds:
// what a member's transform does to BIM, isolated from the member's own plugin.
torch::Tensor bim_with_hooks(std::shared_ptr<medadv::TappedModule> model, std::int64_t classes,
                             const AttackBatch& batch, const Value::Table& p, const std::function<g::StepHooks()>& hooks) {
  Capability cap = Capability::white_box(std::make_shared<ModuleModel>(model, classes, medadv::Task::Classification));
  const Objective objective(BaseLoss::CrossEntropy, false);
  medadv::testing::TestContext ctx;
  g::Bim reference(params_of<g::Bim>("bim", p), ctx);
  const auto problem = g::make_problem(batch, cap, objective, "test");
  return g::run_projected(problem, reference.settings(), ctx, [&](std::int64_t, const g::Problem&) { return hooks(); })
      .adversarial;
}

// A randomised member: the same seed gives the same images, another seed others.
template <class T>
void expect_seeded(const char* name, const Value::Table& p, std::shared_ptr<medadv::TappedModule> model,
                   std::int64_t classes, const AttackBatch& batch) {
  const torch::Tensor a = run_attack<T>(name, p, model, classes, batch, 42).adversarial;
  const torch::Tensor b = run_attack<T>(name, p, model, classes, batch, 42).adversarial;
  const torch::Tensor c = run_attack<T>(name, p, model, classes, batch, 43).adversarial;
  EXPECT_TRUE(torch::equal(a, b)) << name;
  EXPECT_FALSE(torch::equal(a, c)) << name;
}

// A deterministic member: one batch or two batches give the same images, up to the last
// bits of batched convolutions.
template <class T>
void expect_batch_size_invariant(const char* name, const Value::Table& p, std::shared_ptr<medadv::TappedModule> model,
                                 std::int64_t classes, const AttackBatch& batch, std::int64_t split) {
  medadv::testing::TestContext ctx;
  T attack(params_of<T>(name, p), ctx);
  const std::int64_t n = batch.images.size(0);
  const torch::Tensor whole = run_rows(attack, model, classes, batch, 0, n, ctx);
  const torch::Tensor parts =
      torch::cat({run_rows(attack, model, classes, batch, 0, split, ctx), run_rows(attack, model, classes, batch, split, n, ctx)});
  EXPECT_TRUE(torch::allclose(whole, parts, 0.0, 1e-6))
      << name << ": max difference " << (whole - parts).abs().max().item<double>();
}

// The independent oracle of the TIM kernel: the normal density at
// linspace(-nsig, nsig, k), outer product, normalised to sum 1, in plain C++.
std::vector<double> closed_form_gaussian(int k, double nsig) {
  std::vector<double> density(k), kernel(k * k);
  for (int i = 0; i < k; ++i) {
    const double x = k == 1 ? -nsig : -nsig + 2.0 * nsig * i / (k - 1);
    density[i] = std::exp(-x * x / 2) / std::sqrt(2 * std::acos(-1.0));
  }
  double sum = 0;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) sum += kernel[i * k + j] = density[i] * density[j];
  for (double& v : kernel) v /= sum;
  return kernel;
}

torch::Tensor as_tensor(const std::vector<double>& v, int k) {
  return torch::tensor(v, torch::kDouble).view({k, k});
}

}  // namespace

// ---- Presets: one schema, different defaults ------------------------------------------

TEST(GradientFamily, MembersArePresetsOfOneSchema) {
  const auto keys = [](void (*schema)(medadv::ParamSchema&)) {
    medadv::ParamSchema s;
    schema(s);
    std::set<std::string> names;
    for (const auto& spec : s.specs()) names.insert(spec.name());
    return names;
  };
  const auto family = keys(&g::Pgd::schema);
  for (const auto& option : {"momentum", "momentum_normalization", "diversity_prob", "diversity_scale",
                             "translation_invariance", "translation_kernel", "translation_nsig", "early_stop",
                             "restarts", "random_start"})
    EXPECT_EQ(family.count(option), 1u) << option;
  EXPECT_EQ(keys(&g::Bim::schema), family);
  EXPECT_EQ(keys(&g::Mim::schema), family);
  EXPECT_EQ(keys(&g::Dim::schema), family);
  EXPECT_EQ(keys(&g::Tim::schema), family);

  const auto bim = options_of<g::Bim>("bim");
  EXPECT_NEAR(bim.projected.iter.step, 0.8 / 255, 1e-12);  // epsilon / 10
  EXPECT_EQ(bim.projected.iter.steps, 10);
  EXPECT_FALSE(bim.projected.random_start);
  EXPECT_EQ(bim.momentum, 0.0);
  EXPECT_EQ(bim.diversity_prob, 0.0);
  EXPECT_FALSE(bim.translation_invariance);
  // The step follows epsilon unless given.
  EXPECT_NEAR(options_of<g::Bim>("bim", {{"epsilon", "16/255"}}).projected.iter.step, 1.6 / 255, 1e-12);
  EXPECT_NEAR(options_of<g::Bim>("bim", {{"step", "1/255"}}).projected.iter.step, 1.0 / 255, 1e-12);
  const auto mim = options_of<g::Mim>("mim");
  EXPECT_EQ(mim.momentum, 1.0);
  EXPECT_EQ(mim.momentum_normalization, g::MomentumNormalization::MeanAbs);
  EXPECT_FALSE(mim.projected.random_start);
  const auto dim = options_of<g::Dim>("dim");
  EXPECT_EQ(dim.diversity_prob, 0.5);
  EXPECT_DOUBLE_EQ(dim.diversity_scale, 0.9);
  EXPECT_EQ(dim.diversity_interpolation, g::Interpolation::Nearest);
  const auto tim = options_of<g::Tim>("tim");
  EXPECT_TRUE(tim.translation_invariance);
  EXPECT_EQ(tim.translation_kernel, 0);
  EXPECT_DOUBLE_EQ(tim.translation_nsig, 3.0);
  const auto pgd = options_of<g::Pgd>("pgd");
  EXPECT_TRUE(pgd.projected.random_start);
  EXPECT_NEAR(pgd.projected.iter.step, 2.0 / 255, 1e-12);
  EXPECT_EQ(pgd.projected.seed_purpose, "pgd/random-start/");
  EXPECT_EQ(pgd.momentum, 0.0);
  // Restarts only where they can differ (a random start or input diversity).
  EXPECT_EQ(options_of<g::Bim>("bim", {{"restarts", 4}}).projected.restarts, 1);
  EXPECT_EQ(options_of<g::Dim>("dim", {{"restarts", 4}}).projected.restarts, 4);

  EXPECT_THROW(params_of<g::Dim>("dim", {{"diversity_prob", 1.5}}), medadv::ValidationError);
  EXPECT_THROW(params_of<g::Dim>("dim", {{"diversity_scale", 1.0}}), medadv::ValidationError);
  EXPECT_THROW(params_of<g::Mim>("mim", {{"momentum", -0.5}}), medadv::ValidationError);
  EXPECT_THROW(params_of<g::Mim>("mim", {{"momentum_normalization", "l1"}}), medadv::ValidationError);
  EXPECT_THROW(params_of<g::Tim>("tim", {{"translation_kernel", 6}}), medadv::ValidationError);
  EXPECT_THROW(params_of<g::Bim>("bim", {{"epsilon", 2}}), medadv::ValidationError);
  EXPECT_NO_THROW(params_of<g::Bim>("bim", {{"epsilon", 2}, {"norm", "l2"}}));  // the rule is L-inf's only

  const auto uap = params_of<g::Uap>("uap");
  EXPECT_NEAR(uap.get_float("epsilon"), 8.0 / 255, 1e-12);
  EXPECT_EQ(uap.get_int("epochs"), 10);
  EXPECT_EQ(uap.get_string("norm"), "linf");
  EXPECT_THROW(params_of<g::Uap>("uap", {{"epochs", 0}}), medadv::ValidationError);
}

// ---- Budgets --------------------------------------------------------------------------

TEST(GradientFamily, EveryMemberStaysInTheImageRangeAndTheBall) {
  const std::int64_t classes = 3;
  auto model = tiny(3, classes, 21);
  const auto x = medadv::testing::random_images(6, 3, 16, 22);
  const AttackBatch batch{x, torch::arange(6) % classes, {}};
  const Value::Table combined{{"momentum", 1.0}, {"diversity_prob", 0.5}, {"translation_invariance", true},
                              {"random_start", true}, {"restarts", 2}, {"early_stop", true}};
  for (const char* eps_text : {"1/255", "4/255", "16/255"}) {
    const double eps = medadv::parse_epsilon(std::string(eps_text));
    for (const char* norm : {"linf", "l2"}) {
      SCOPED_TRACE(std::string(eps_text) + " " + norm);
      Value::Table p{{"epsilon", eps_text}, {"norm", norm}, {"steps", 4}};
      auto all_options = p;
      all_options.insert(all_options.end(), combined.begin(), combined.end());
      std::map<std::string, AttackResult> results;
      results["bim"] = run_attack<g::Bim>("bim", p, model, classes, batch);
      results["pgd"] = run_attack<g::Pgd>("pgd", p, model, classes, batch);
      results["mim"] = run_attack<g::Mim>("mim", p, model, classes, batch);
      results["dim"] = run_attack<g::Dim>("dim", p, model, classes, batch);
      results["tim"] = run_attack<g::Tim>("tim", p, model, classes, batch);
      results["mim+dim+tim"] = run_attack<g::Mim>("mim", all_options, model, classes, batch);
      if (std::string(norm) == "linf") results["fgsm"] = run_attack<g::Fgsm>("fgsm", {{"epsilon", eps_text}}, model, classes, batch);
      {
        medadv::testing::TestContext ctx(torch::kCPU);
        g::Uap uap(params_of<g::Uap>("uap", {{"epsilon", eps_text}, {"norm", norm}, {"epochs", 2}}), ctx);
        fit_uap(uap, model, classes, x, batch.labels, 4, ctx);
        results["uap"] = attack_with(uap, model, classes, batch, Objective(BaseLoss::CrossEntropy, false), ctx);
      }
      for (const auto& [name, r] : results) {
        SCOPED_TRACE(name);
        expect_well_formed(r, batch);
        EXPECT_GE(r.adversarial.min().item<double>(), 0.0);
        EXPECT_LE(r.adversarial.max().item<double>(), 1.0);
        const auto size = std::string(norm) == "linf" ? metrics::linf_norm(x, r.adversarial)
                                                      : metrics::l2_norm(x, r.adversarial);
        EXPECT_LE(size.max().item<double>(), eps + 1e-6);
        EXPECT_GT(size.max().item<double>(), 0.0);  // it did move the images
      }
    }
  }
}

TEST(GradientFamily, NewMembersLeaveTheWeightsAlone) {
  auto model = std::make_shared<medadv::testing::TinyClassifier>(3, 3, 23);
  model->eval();
  std::vector<torch::Tensor> before;
  for (const auto& p : model->parameters()) before.push_back(p.detach().clone());
  const AttackBatch batch{medadv::testing::random_images(4, 3, 16, 24), torch::arange(4) % 3, {}};
  const Value::Table p{{"steps", 2}, {"momentum", 0.5}, {"diversity_prob", 1.0}, {"translation_invariance", true}};
  run_attack<g::Mim>("mim", p, model, 3, batch);
  medadv::testing::TestContext ctx(torch::kCPU);
  g::Uap uap(params_of<g::Uap>("uap", {{"epochs", 1}}), ctx);
  fit_uap(uap, model, 3, batch.images, batch.labels, 2, ctx);
  attack_with(uap, model, 3, batch, Objective(BaseLoss::CrossEntropy, false), ctx);
  const auto after = model->parameters();
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(torch::equal(after[i], before[i])) << "parameter " << i;
    EXPECT_FALSE(after[i].grad().defined()) << "parameter " << i;
  }
}

// ---- MIM ------------------------------------------------------------------------------

TEST(GradientFamily, MomentumAccumulatesNormalisedGradients) {
  const auto g1 = torch::randn({3, 2, 4, 4}, medadv::compat::cpu_generator(1));
  const auto g2 = torch::randn({3, 2, 4, 4}, medadv::compat::cpu_generator(2));
  const auto mean_abs = [](const torch::Tensor& t) { return t.abs().flatten(1).mean(1).view({-1, 1, 1, 1}); };
  const auto l2 = [](const torch::Tensor& t) { return t.flatten(1).norm(2, 1).view({-1, 1, 1, 1}); };
  g::MomentumAccumulator dong(0.7, g::MomentumNormalization::MeanAbs);
  EXPECT_TRUE(torch::allclose(dong(g1), g1 / mean_abs(g1), 1e-6, 1e-7));
  EXPECT_TRUE(torch::allclose(dong(g2), 0.7 * g1 / mean_abs(g1) + g2 / mean_abs(g2), 1e-6, 1e-6));
  g::MomentumAccumulator hfc(0.5, g::MomentumNormalization::L2);
  hfc(g1);
  EXPECT_TRUE(torch::allclose(hfc(g2), 0.5 * g1 / l2(g1) + g2 / l2(g2), 1e-6, 1e-7));
  // A zero gradient stays zero instead of dividing by zero.
  g::MomentumAccumulator zero(1.0, g::MomentumNormalization::MeanAbs);
  EXPECT_TRUE(torch::equal(zero(torch::zeros({2, 1, 3, 3})), torch::zeros({2, 1, 3, 3})));
}

TEST(GradientFamily, MimWithoutMomentumIsBim) {
  const std::int64_t classes = 3;
  auto model = tiny(3, classes, 25);
  const AttackBatch batch{medadv::testing::random_images(8, 3, 16, 26), torch::arange(8) % classes, {}};
  const Value::Table p{{"steps", 6}, {"epsilon", "8/255"}};
  const auto bim = run_attack<g::Bim>("bim", p, model, classes, batch);
  auto no_momentum = p;
  no_momentum.emplace_back("momentum", 0.0);
  EXPECT_TRUE(torch::equal(run_attack<g::Mim>("mim", no_momentum, model, classes, batch).adversarial, bim.adversarial));
  // The accumulator itself with mu = 0 (normalisation included) leaves BIM's steps unchanged.
  const auto hooked = bim_with_hooks(model, classes, batch, p, [] {
    auto accumulator = std::make_shared<g::MomentumAccumulator>(0.0, g::MomentumNormalization::MeanAbs);
    g::StepHooks h;
    h.gradient = [accumulator](const torch::Tensor& grad, std::int64_t) { return (*accumulator)(grad); };
    return h;
  });
  EXPECT_TRUE(torch::equal(hooked, bim.adversarial));
  // With momentum the path differs after the first step, and the first step is BIM's.
  const auto mim = run_attack<g::Mim>("mim", p, model, classes, batch);
  EXPECT_FALSE(torch::equal(mim.adversarial, bim.adversarial));
  Value::Table one{{"steps", 1}};
  EXPECT_TRUE(torch::equal(run_attack<g::Mim>("mim", one, model, classes, batch).adversarial,
                           run_attack<g::Bim>("bim", one, model, classes, batch).adversarial));
}

// ---- TIM ------------------------------------------------------------------------------

TEST(GradientFamily, TranslationKernelIsTheNormalisedGaussian) {
  for (int k : {1, 3, 7, 15}) {
    SCOPED_TRACE(k);
    const auto kernel = g::gaussian_kernel(k, 3.0);
    EXPECT_TRUE(torch::allclose(kernel, as_tensor(closed_form_gaussian(k, 3.0), k), 0.0, 1e-12));
    EXPECT_NEAR(kernel.sum().item<double>(), 1.0, 1e-12);
  }
  EXPECT_TRUE(torch::allclose(g::gaussian_kernel(5, 1.5), as_tensor(closed_form_gaussian(5, 1.5), 5), 0.0, 1e-12));
  EXPECT_THROW(g::gaussian_kernel(4, 3.0), medadv::InvalidInput);
  // Size by image: 7 up to 256 px, 15 above.
  EXPECT_EQ(g::default_translation_kernel(32), 7);
  EXPECT_EQ(g::default_translation_kernel(256), 7);
  EXPECT_EQ(g::default_translation_kernel(257), 15);
  EXPECT_EQ(g::TranslationSmoothing(torch::zeros({1, 1, 300, 300}), 0, 3.0).kernel().size(0), 15);
  EXPECT_EQ(g::TranslationSmoothing(torch::zeros({1, 1, 64, 64}), 0, 3.0).kernel().size(0), 7);
  EXPECT_EQ(g::TranslationSmoothing(torch::zeros({1, 1, 64, 64}), 5, 3.0).kernel().size(0), 5);

  // Smoothing a delta impulse reproduces the kernel around it, channel by channel.
  const int k = 7;
  auto impulse = torch::zeros({2, 3, 21, 21});
  impulse.index_put_({0, 1, 10, 10}, 1.0);
  impulse.index_put_({1, 2, 3, 3}, 2.0);  // near the border: the zero padding cuts the kernel
  const g::TranslationSmoothing smoothing(impulse, k, 3.0);
  const auto out = smoothing(impulse);
  EXPECT_EQ(out.sizes(), impulse.sizes());
  const auto expected = as_tensor(closed_form_gaussian(k, 3.0), k).to(torch::kFloat);
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::allclose(out.index({0, 1, Slice(7, 14), Slice(7, 14)}), expected, 0.0, 1e-7));
  EXPECT_NEAR(out[0][1].sum().item<double>(), 1.0, 1e-6);
  EXPECT_TRUE(torch::allclose(out.index({1, 2, Slice(0, 7), Slice(0, 7)}), 2 * expected.index({Slice(0, 7), Slice(0, 7)}),
                              0.0, 1e-6));
  EXPECT_EQ(out[0][0].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(out[0][2].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(out[1][0].abs().sum().item<double>(), 0.0);
}

TEST(GradientFamily, TimStepOnALinearModelEqualsTheClosedForm) {
  const std::int64_t b = 4, c = 2, s = 9, d = c * s * s;
  auto model = std::make_shared<LinearModel>(d, 2, 27);
  const auto x = medadv::testing::random_images(b, c, s, 28);
  const auto y = torch::tensor({0, 1, 1, 0});
  const double eps = 8.0 / 255, step = eps / 10;
  torch::Tensor expected;
  {
    // d CE / dx = (softmax(z) - onehot(y)) W; smoothed by the 7x7 Gaussian per channel
    // (zero padding), by direct summation.
    torch::NoGradGuard no_grad;
    const auto W = model->weight.detach();
    const auto z = x.flatten(1).matmul(W.t()) + model->bias.detach();
    const auto grad = (z.softmax(1) - torch::one_hot(y, 2).to(torch::kFloat)).matmul(W).view_as(x).to(torch::kDouble);
    const auto kernel = closed_form_gaussian(7, 3.0);
    auto smoothed = torch::zeros_like(grad);
    auto acc = smoothed.accessor<double, 4>();
    const auto gin = grad.accessor<double, 4>();
    for (int n = 0; n < b; ++n)
      for (int ch = 0; ch < c; ++ch)
        for (int i = 0; i < s; ++i)
          for (int j = 0; j < s; ++j)
            for (int u = -3; u <= 3; ++u)
              for (int v = -3; v <= 3; ++v)
                if (i + u >= 0 && i + u < s && j + v >= 0 && j + v < s)
                  acc[n][ch][i][j] += kernel[(u + 3) * 7 + (v + 3)] * gin[n][ch][i + u][j + v];
    expected = (x + step * smoothed.sign().to(torch::kFloat)).clamp(0, 1);
  }
  const AttackBatch batch{x, y, {}};
  const auto r = run_attack<g::Tim>("tim", {{"steps", 1}}, model, 2, batch);
  expect_well_formed(r, batch);
  EXPECT_TRUE(torch::allclose(r.adversarial, expected, 0.0, 1e-6));
  EXPECT_FALSE(torch::equal(r.adversarial, run_attack<g::Bim>("bim", {{"steps", 1}}, model, 2, batch).adversarial));
}

// ---- DIM ------------------------------------------------------------------------------

TEST(GradientFamily, InputDiversityResizesIntoTheZeroPadding) {
  const auto ones = torch::ones({2, 3, 32, 32});
  // A given draw: the content is the resized image, everything else is zero padding.
  const g::DiversityDraw d{true, 29, 29, 2, 1};
  for (auto mode : {g::Interpolation::Nearest, g::Interpolation::Bilinear}) {
    const auto out = g::resize_and_pad(ones, d, mode);
    EXPECT_EQ(out.sizes(), ones.sizes());
    using torch::indexing::Slice;
    EXPECT_TRUE(torch::allclose(out.index({Slice(), Slice(), Slice(2, 31), Slice(1, 30)}),
                                torch::ones({2, 3, 29, 29}), 0.0, 1e-6));
    EXPECT_NEAR(out.sum().item<double>(), 2 * 3 * 29 * 29, 1e-2);  // zero outside
  }
  // Nearest-neighbour resizing keeps pixel values: the content holds only input values.
  const auto image = medadv::testing::random_images(1, 1, 32, 29);
  const auto nearest = g::resize_and_pad(image, d, g::Interpolation::Nearest);
  const auto content = nearest.index({0, 0, torch::indexing::Slice(2, 31), torch::indexing::Slice(1, 30)}).flatten();
  const auto values = image.flatten();
  EXPECT_EQ(torch::isin(content, values).all().item<bool>(), true);

  // Draws: sizes in [ceil(0.9 s), s), offsets keep the content inside, applied with p.
  g::InputDiversity diversity(0.5, 0.9, g::Interpolation::Nearest, 7);
  int applied = 0;
  std::set<std::int64_t> sizes, tops;
  for (int i = 0; i < 400; ++i) {
    const auto draw = diversity.draw(32, 32);
    if (!draw.apply) continue;
    ++applied;
    EXPECT_GE(draw.height, 29);
    EXPECT_LE(draw.height, 31);
    EXPECT_EQ(draw.width, draw.height);
    EXPECT_GE(draw.top, 0);
    EXPECT_LE(draw.top + draw.height, 32);
    EXPECT_GE(draw.left, 0);
    EXPECT_LE(draw.left + draw.width, 32);
    sizes.insert(draw.height);
    tops.insert(draw.top);
  }
  EXPECT_GT(applied, 150);
  EXPECT_LT(applied, 250);
  EXPECT_EQ(sizes.size(), 3u);  // 29, 30, 31
  EXPECT_EQ(tops.size(), 4u);   // 0 .. 3
  // The transform as applied: shape kept; either the input or content in zero padding.
  g::InputDiversity always(1.0, 0.9, g::Interpolation::Nearest, 8);
  const auto transformed = always(ones);
  EXPECT_EQ(transformed.sizes(), ones.sizes());
  const double kept = transformed.sum().item<double>() / (2 * 3);
  EXPECT_GE(kept, 29 * 29);
  EXPECT_LE(kept, 31 * 31);
  g::InputDiversity never(0.0, 0.9, g::Interpolation::Nearest, 8);
  EXPECT_TRUE(torch::equal(never(ones), ones));
}

TEST(GradientFamily, DimWithoutDiversityIsBim) {
  const std::int64_t classes = 3;
  auto model = tiny(3, classes, 30);
  const AttackBatch batch{medadv::testing::random_images(8, 3, 16, 31), torch::arange(8) % classes, {}};
  const Value::Table p{{"steps", 5}};
  const auto bim = run_attack<g::Bim>("bim", p, model, classes, batch);
  auto no_diversity = p;
  no_diversity.emplace_back("diversity_prob", 0.0);
  EXPECT_TRUE(torch::equal(run_attack<g::Dim>("dim", no_diversity, model, classes, batch).adversarial, bim.adversarial));
  // The transform itself at p = 0, as a hook, leaves BIM unchanged.
  const auto hooked = bim_with_hooks(model, classes, batch, p, [] {
    auto transform = std::make_shared<g::InputDiversity>(0.0, 0.9, g::Interpolation::Nearest, 3);
    g::StepHooks h;
    h.input = [transform](const torch::Tensor& x, std::int64_t) { return (*transform)(x); };
    return h;
  });
  EXPECT_TRUE(torch::equal(hooked, bim.adversarial));
  // Always transforming changes the path.
  auto always = p;
  always.emplace_back("diversity_prob", 1.0);
  EXPECT_FALSE(torch::equal(run_attack<g::Dim>("dim", always, model, classes, batch).adversarial, bim.adversarial));
}

// ---- UAP ------------------------------------------------------------------------------

TEST(GradientFamily, UapFitsOneDeltaAndAppliesItToEveryImage) {
  const std::int64_t classes = 3;
  auto model = tiny(3, classes, 32);
  const auto train = medadv::testing::random_images(10, 3, 16, 33);
  const auto train_labels = torch::arange(10) % classes;
  const AttackBatch other{medadv::testing::random_images(7, 3, 16, 34), torch::arange(7) % classes, {}};
  medadv::testing::TestContext ctx(torch::kCPU, 5);

  g::Uap uap(params_of<g::Uap>("uap", {{"epochs", 3}}), ctx);
  EXPECT_THROW(attack_with(uap, model, classes, other, Objective(BaseLoss::CrossEntropy, false), ctx), medadv::Error);
  fit_uap(uap, model, classes, train, train_labels, 4, ctx);
  const auto delta = uap.perturbation();
  ASSERT_EQ(delta.sizes(), (std::vector<std::int64_t>{1, 3, 16, 16}));
  EXPECT_LE(delta.abs().max().item<double>(), 8.0 / 255 + 1e-7);
  EXPECT_GT(delta.abs().max().item<double>(), 0.0);
  const auto r = attack_with(uap, model, classes, other, Objective(BaseLoss::CrossEntropy, false), ctx);
  expect_well_formed(r, other);
  EXPECT_EQ(count(r.iterations != 0), 0);
  // One tensor for every image: x + delta clipped to [0,1].
  EXPECT_TRUE(torch::allclose(r.adversarial, (other.images + delta).clamp(0, 1), 0.0, 1e-7));
  EXPECT_LE(metrics::linf_norm(other.images, r.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
  // Success is the objective's verdict on the perturbed images.
  torch::Tensor predictions;
  {
    torch::NoGradGuard no_grad;
    predictions = model->forward(r.adversarial).argmax(1);
  }
  EXPECT_TRUE(torch::equal(r.success, predictions.ne(other.labels)));
  // Images of another shape are refused.
  const AttackBatch small{medadv::testing::random_images(2, 3, 8, 35), torch::tensor({0, 1}), {}};
  EXPECT_THROW(attack_with(uap, model, classes, small, Objective(BaseLoss::CrossEntropy, false), ctx),
               medadv::InvalidInput);

  // L2: the delta stays in the L2 ball.
  g::Uap l2(params_of<g::Uap>("uap", {{"norm", "l2"}, {"epsilon", 0.5}, {"step", 0.2}, {"epochs", 4}}), ctx);
  fit_uap(l2, model, classes, train, train_labels, 3, ctx);
  EXPECT_LE(l2.perturbation().norm().item<double>(), 0.5 + 1e-6);
  EXPECT_GT(l2.perturbation().norm().item<double>(), 0.2);
}

TEST(GradientFamily, UapUpdateOnALinearModelEqualsTheClosedForm) {
  // One epoch over one batch: delta = Pi_eps(step * sign(mean_i grad_i)), the gradient
  // at the clean images; a second batch steps again from there.
  const std::int64_t n = 6, c = 1, s = 4, d = c * s * s;
  auto model = std::make_shared<LinearModel>(d, 2, 36);
  const auto x = medadv::testing::random_images(n, c, s, 37) * 0.5 + 0.25;  // away from the clip
  const auto y = torch::tensor({0, 1, 0, 1, 1, 0});
  const double eps = 8.0 / 255, step = 3.0 / 255;
  const auto mean_grad_at = [&](const torch::Tensor& images, const torch::Tensor& labels) {
    torch::NoGradGuard no_grad;
    const auto W = model->weight.detach();
    const auto z = images.flatten(1).matmul(W.t()) + model->bias.detach();
    return (z.softmax(1) - torch::one_hot(labels, 2).to(torch::kFloat)).matmul(W).mean(0).view({1, c, s, s});
  };
  medadv::testing::TestContext ctx(torch::kCPU);
  g::Uap one(params_of<g::Uap>("uap", {{"epsilon", "8/255"}, {"step", "3/255"}, {"epochs", 1}}), ctx);
  fit_uap(one, model, 2, x, y, n, ctx);
  const auto first = (step * mean_grad_at(x, y).sign()).clamp(-eps, eps);
  EXPECT_TRUE(torch::allclose(one.perturbation(), first, 0.0, 1e-7));
  // Three epochs of the one batch: the third step is projected back to the ball.
  g::Uap three(params_of<g::Uap>("uap", {{"epsilon", "8/255"}, {"step", "3/255"}, {"epochs", 3}}), ctx);
  fit_uap(three, model, 2, x, y, n, ctx);
  auto delta = first;
  for (int epoch = 1; epoch < 3; ++epoch)
    delta = (delta + step * mean_grad_at((x + delta).clamp(0, 1), y).sign()).clamp(-eps, eps);
  EXPECT_TRUE(torch::allclose(three.perturbation(), delta, 0.0, 1e-7));
  EXPECT_NEAR(three.perturbation().abs().max().item<double>(), eps, 1e-7);
}

// ---- Determinism ----------------------------------------------------------------------

TEST(GradientFamily, SeedsAndBatchSizesGiveTheSameImages) {
  const std::int64_t classes = 3;
  auto model = tiny(3, classes, 38);
  const AttackBatch batch{medadv::testing::random_images(12, 3, 16, 39), torch::arange(12) % classes, {}};
  const Value::Table p{{"steps", 4}};
  expect_seeded<g::Pgd>("pgd", p, model, classes, batch);
  expect_seeded<g::Dim>("dim", p, model, classes, batch);
  const auto uap_images = [&](std::uint64_t seed) {
    medadv::testing::TestContext ctx(torch::kCPU, seed);
    g::Uap uap(params_of<g::Uap>("uap", {{"epochs", 2}}), ctx);
    fit_uap(uap, model, classes, batch.images, batch.labels, 5, ctx);
    return attack_with(uap, model, classes, batch, Objective(BaseLoss::CrossEntropy, false), ctx).adversarial;
  };
  EXPECT_TRUE(torch::equal(uap_images(42), uap_images(42)));
  EXPECT_FALSE(torch::equal(uap_images(42), uap_images(43)));  // another batch order

  // Deterministic members: one batch of 12 or batches of 5 + 7.
  expect_batch_size_invariant<g::Fgsm>("fgsm", {}, model, classes, batch, 5);
  expect_batch_size_invariant<g::Bim>("bim", p, model, classes, batch, 5);
  expect_batch_size_invariant<g::Mim>("mim", p, model, classes, batch, 5);
  expect_batch_size_invariant<g::Tim>("tim", p, model, classes, batch, 5);
}

// ---- Strength on the trained fundus CNN -----------------------------------------------

TEST(GradientFamily, StrengthOnTheFundusCnn) {
  const auto& victim = medadv::testing::fundus_small_cnn();
  ASSERT_GE(victim.test.accuracy, 0.9);
  Capability cap = victim.white_box();
  medadv::testing::TestContext ctx(0);
  const auto predict = [&](const torch::Tensor& images) {
    torch::NoGradGuard no_grad;
    return victim.model->logits(images).argmax(1);
  };
  const Objective untargeted(BaseLoss::CrossEntropy, false), targeted(BaseLoss::CrossEntropy, true);
  const auto& images = victim.test_images;
  const auto& labels = victim.test_labels;
  const auto clean = predict(images);
  const AttackBatch batch{images, labels, {}};
  const Value::Table pgd20{{"epsilon", "8/255"}, {"step", "2/255"}, {"steps", 20}};

  // PGD-20 at 8/255, untargeted.
  const auto pgd = run_on<g::Pgd>("pgd", pgd20, batch, cap, untargeted, ctx);
  const double pgd_rate = metrics::attack_success_rate_untargeted(clean, predict(pgd.adversarial), labels);
  // Targeted at the other class.
  const auto targets = 1 - labels;
  const auto pgd_t = run_on<g::Pgd>("pgd", pgd20, AttackBatch{images, labels, targets}, cap, targeted, ctx);
  const double targeted_rate = metrics::attack_success_rate_targeted(predict(pgd_t.adversarial), labels, targets);
  // UAP fitted on adv_train, applied to adv_test.
  g::Uap uap(params_of<g::Uap>("uap", {{"epsilon", "8/255"}}), ctx);
  uap.fit(*medadv::tensor_batches(victim.adv_train_images, victim.adv_train_labels), {}, 32, cap, untargeted, ctx);
  const auto& test_labels = victim.adv_test_labels;
  const auto uap_test = uap.run(AttackBatch{victim.adv_test_images, test_labels, {}}, cap, untargeted, ctx);
  const auto clean_test = predict(victim.adv_test_images), uap_predictions = predict(uap_test.adversarial);
  const double uap_rate = metrics::attack_success_rate_untargeted(clean_test, uap_predictions, test_labels);
  // On a binary task one perturbation shared by every image pushes them towards one
  // class: it should fool (nearly) every clean-correct image of the other class.
  const auto uap_fooled = metrics::per_sample_success_untargeted(clean_test, uap_predictions, test_labels);
  double uap_best_class = 0.0;
  for (std::int64_t c = 0; c < 2; ++c) {
    const auto correct = clean_test.eq(test_labels).logical_and(test_labels.eq(c)).cpu();  // as uap_fooled
    const double fooled = static_cast<double>(count(uap_fooled.logical_and(correct))) /
                          static_cast<double>(std::max<std::int64_t>(count(correct), 1));
    uap_best_class = std::max(uap_best_class, fooled);
  }
  // The other members with their defaults at the same budget, reported for reference.
  const Value::Table classic{{"epsilon", "8/255"}};
  const auto rate_of = [&](const AttackResult& r) {
    return metrics::attack_success_rate_untargeted(clean, predict(r.adversarial), labels);
  };
  const std::map<std::string, double> members{
      {"bim", rate_of(run_on<g::Bim>("bim", classic, batch, cap, untargeted, ctx))},
      {"mim", rate_of(run_on<g::Mim>("mim", classic, batch, cap, untargeted, ctx))},
      {"dim", rate_of(run_on<g::Dim>("dim", classic, batch, cap, untargeted, ctx))},
      {"tim", rate_of(run_on<g::Tim>("tim", classic, batch, cap, untargeted, ctx))}};

  std::cout << "[gradient] fundus small-cnn (clean test accuracy " << victim.test.accuracy << ", "
            << images.size(0) << " test images) at 8/255: pgd-20 untargeted " << pgd_rate << ", targeted "
            << targeted_rate << "; uap (fitted on " << victim.adv_train_images.size(0) << " adv_train images) on "
            << victim.adv_test_images.size(0) << " adv_test images " << uap_rate << " (" << uap_best_class
            << " of the class it pushes away from); 10 x eps/10:";
  for (const auto& [name, rate] : members) std::cout << " " << name << " " << rate;
  std::cout << "\n";
  EXPECT_GE(pgd_rate, 0.95);
  EXPECT_GE(targeted_rate, 0.90);
  EXPECT_GE(uap_rate, 0.50);
  EXPECT_GE(uap_best_class, 0.9);
  EXPECT_LE(metrics::linf_norm(images, pgd.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
  EXPECT_LE(metrics::linf_norm(victim.adv_test_images, uap_test.adversarial).max().item<double>(), 8.0 / 255 + 1e-6);
}
