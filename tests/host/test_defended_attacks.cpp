// Attacks on defended variants (ARCHITECTURE.md section 4, issue 28): through the defense
// (BPDA) or crafted on the undefended model (`bpda = false`), EOT on a randomised defense
// (`eot = N`), and the refusal of a randomised defense attacked without EOT.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "engine/defended_model.h"
#include "engine/run.h"
#include "experiment/loaded_experiment.h"
#include "experiment/plan.h"
#include "host/run_command.h"
#include "host/temp_workspace.h"
#include "medadv/error.h"
#include "medadv/torch_compat.h"
#include "medadv/white_box.h"

namespace fs = std::filesystem;
using namespace medadv;
using namespace medadv::host;

namespace {

const char* const kDefendedExperiment = R"toml(
[experiment]
name = "defended"
seed = 4
device = "cpu"
threads = 1
batch_size = 64
attack_adv_train = false

[dataset]
plugin = "phantom-fundus"
image_size = 32
count = 400
splits = { train = 0.7, adv_train = 0.1, adv_test = 0.2 }

[model]
plugin = "small-cnn"
[model.train]
epochs = 6
)toml";

struct DefendedWorkspace : TempWorkspace {
  explicit DefendedWorkspace(const std::string& name) : TempWorkspace("defended_" + name) {}
  fs::path write(const std::string& rest) const {
    return TempWorkspace::write("defended.toml", std::string(kDefendedExperiment) + rest);
  }
};

double number(const std::string& line, const std::string& key) { return std::stod(field(line, key)); }
std::string text(const std::string& line, const std::string& key) {
  const std::string raw = field(line, key);
  return raw.size() >= 2 ? raw.substr(1, raw.size() - 2) : raw;
}

// A model that adds fresh noise from its own generator at every forward: a randomised
// defense whose draws a test can replay.
class NoisyLinear : public DifferentiableModel {
 public:
  explicit NoisyLinear(std::uint64_t seed) : weight_(torch::randn({2, 4}, generator(seed))), seed_(seed) {
    reset();
  }
  void reset() { draws_ = generator(seed_ + 1); }
  ModelOutput forward(const torch::Tensor& x, const std::vector<std::string>&) override {
    const auto noisy = x.flatten(1) + 0.3 * torch::randn(x.flatten(1).sizes(), draws_);
    ModelOutput out;
    out.logits = noisy.square().matmul(weight_.t());  // nonlinear in the noise: draws differ
    return out;
  }
  std::vector<std::string> tap_names() const override { return {}; }
  std::int64_t num_classes() const override { return 2; }
  Task task() const override { return Task::Classification; }
  bool randomized() const override { return true; }

 private:
  static at::Generator generator(std::uint64_t seed) { return compat::cpu_generator(seed); }
  torch::Tensor weight_;
  std::uint64_t seed_;
  at::Generator draws_;
};

}  // namespace

TEST(DefendedAttacks, EotAveragesEachStepsGradientOverItsDrawsAsByHand) {
  auto noisy = std::make_shared<NoisyLinear>(3);
  ExpectationModel eot(noisy, 5);
  const Objective objective(BaseLoss::CrossEntropy, false);
  const auto x = torch::rand({3, 1, 2, 2});
  const auto labels = torch::tensor({0, 1, 1});
  white_box::Problem problem;
  problem.model = &eot;
  problem.objective = &objective;
  problem.clean = x;
  problem.labels = labels;
  noisy->reset();
  const auto through_kit = white_box::evaluate_with_grad(problem, x);

  // By hand: the same five draws, one after another.
  noisy->reset();
  torch::Tensor value = torch::zeros({3}), gradient = torch::zeros_like(x);
  std::vector<torch::Tensor> probabilities;
  for (int draw = 0; draw < 5; ++draw) {
    const auto probe = x.clone().requires_grad_(true);
    const auto logits = noisy->forward(probe, {}).logits;
    const auto loss = torch::nn::functional::cross_entropy(
        logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    gradient += torch::autograd::grad({loss.sum()}, {probe})[0];
    value += loss.detach();
    probabilities.push_back(torch::softmax(logits.detach(), 1));
  }
  EXPECT_TRUE(torch::allclose(through_kit.value, value / 5, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(through_kit.grad, gradient / 5, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(torch::softmax(through_kit.logits, 1), torch::stack(probabilities).mean(0), 1e-5, 1e-6));
  // One draw's gradient is not the mean: the test could tell them apart.
  noisy->reset();
  problem.model = noisy.get();
  EXPECT_FALSE(torch::allclose(white_box::evaluate_with_grad(problem, x).grad, gradient / 5, 1e-3, 1e-4));
}

TEST(DefendedAttacks, ARandomisedDefenseWithoutEotIsRefusedBeforeTraining) {
  DefendedWorkspace w("refused");
  const std::string rest = R"toml(
[[defense]]
label = "TVM"
plugin = "tvm"

[[attack]]
label = "PGD"
plugin = "pgd"
epsilon = "8/255"
)toml";
  const auto loaded = load_experiment(w.write(rest), {}, {});
  const Plan plan = make_plan(loaded->checked);
  try {
    check_against_data(*loaded, plan);
    FAIL() << "PGD on tvm without eot was accepted";
  } catch (const InvalidInput& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("attack[0].eot"), std::string::npos) << what;
    EXPECT_NE(what.find("randomised"), std::string::npos) << what;
    EXPECT_NE(what.find("defended.toml:"), std::string::npos) << "where the attack is written: " << what;
  }
  EXPECT_FALSE(fs::exists(w.root / "cache" / "models")) << "nothing was trained";
  // From the command line: invalid input, exit status 2.
  const auto r = run_medadv("run " + (w.root / "defended.toml").string() + " --output " + (w.root / "run").string(),
                            "MEDADV_CACHE=" + (w.root / "cache").string());
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_NE(r.all().find("eot = N"), std::string::npos) << r.all();
}

// The point of BPDA (the issue's check): on JPEG at quality 80, PGD through the defense is
// at least as strong as PGD crafted on the undefended model, and the latter, the
// non-adaptive evaluation, makes the defense look as if it worked.
TEST(DefendedAttacks, BpdaIsAtLeastAsStrongAsAttackingTheUndefendedModelWhichFlattersJpeg) {
  DefendedWorkspace w("bpda");
  const std::string rest = R"toml(
[[defense]]
label = "JPEG-80"
plugin = "jpeg"
quality = 80

[[attack]]
label = "PGD (BPDA)"
plugin = "pgd"
epsilon = "8/255"
step = "2/255"
steps = 10

[[attack]]
label = "PGD (no BPDA)"
plugin = "pgd"
epsilon = "8/255"
step = "2/255"
steps = 10
bpda = false
)toml";
  const auto loaded = load_experiment(w.write(rest), {}, {});
  const Plan plan = make_plan(loaded->checked);
  RunOptions options;
  options.output = w.root / "run";
  const fs::path dir = run_experiment(*loaded, plan, options);
  std::map<std::string, double> robust;  // "variant/attack"
  std::map<std::string, std::string> crafted_on;
  for (const auto& line : lines_of((dir / "results.jsonl").string())) {
    if (text(line, "kind") != "attack") continue;
    const std::string key = text(line, "variant") + "/" + text(line, "attack");
    robust[key] = number(line, "robust_accuracy");
    crafted_on[key] = text(line, "surrogate");
  }
  ASSERT_EQ(robust.size(), 4u);
  std::cout << "[strength] fundus small-cnn, PGD 8/255 x10, robust accuracy: baseline " << robust["baseline/PGD (BPDA)"]
            << "; JPEG-80 through BPDA " << robust["JPEG-80/PGD (BPDA)"] << ", crafted on the undefended model "
            << robust["JPEG-80/PGD (no BPDA)"] << "\n";
  EXPECT_LE(robust["JPEG-80/PGD (BPDA)"], robust["JPEG-80/PGD (no BPDA)"]);
  EXPECT_GT(robust["JPEG-80/PGD (no BPDA)"], robust["baseline/PGD (BPDA)"] + 0.1);
  // bpda = false is crafted on the undefended model only where there is a defense.
  EXPECT_NE(crafted_on["JPEG-80/PGD (no BPDA)"].find("undefended"), std::string::npos);
  EXPECT_TRUE(crafted_on["baseline/PGD (no BPDA)"].empty());
  EXPECT_EQ(robust["baseline/PGD (BPDA)"], robust["baseline/PGD (no BPDA)"]);
}

TEST(DefendedAttacks, ABlackBoxAttackCarryingTermsIsRefusedBeforeTraining) {
  DefendedWorkspace w("blackbox_terms");
  const std::string rest = R"toml(
[[attack]]
label = "Square"
plugin = "square"
epsilon = "8/255"
max_queries = 100
add = [{ plugin = "feature-stress", tap = "penultimate" }]
)toml";
  const auto loaded = load_experiment(w.write(rest), {}, {});
  const Plan plan = make_plan(loaded->checked);
  // --dry-run's estimate: the query budget, forward only, plus the clean and scoring passes.
  for (const Trial& t : plan.trials)
    if (t.kind == TrialKind::Attack) {
      EXPECT_EQ(cost_per_image(plan, t).forward, 102);
      EXPECT_EQ(cost_per_image(plan, t).backward, 0);
    }
  try {
    check_against_data(*loaded, plan);
    FAIL() << "a black-box attack with a feature term was accepted";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("attack[0].add"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(w.root / "cache" / "models")) << "nothing was trained";
}
