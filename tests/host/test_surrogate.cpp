// The gray-box and transfer threat model ([attack.surrogate]): validated, planned, trained
// by the host on the split the file names, and the only model the attack touches.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/logging.h"
#include "engine/attack_stage.h"
#include "engine/data_stage.h"
#include "engine/run.h"
#include "engine/surrogate.h"
#include "experiment/loaded_experiment.h"
#include "experiment/plan.h"
#include "host/run_command.h"
#include "host/temp_workspace.h"
#include "medadv/error.h"
#include "medadv/splits.h"
#include "train/model_provider.h"

namespace fs = std::filesystem;
using namespace medadv;
using namespace medadv::host;

namespace {

// `splits` and the surrogate's keys are appended by each test.
const char* const kSurrogateExperiment = R"(
[experiment]
name = "surrogate"
seed = 2
device = "cpu"
threads = 1
batch_size = 32

[dataset]
plugin = "phantom-fundus"
image_size = 16
count = 120
)";

const char* const kSurrogateModelAndAttack = R"(
[model]
plugin = "small-cnn"
width = 4
[model.train]
epochs = 1
batch_size = 32

[[attack]]
label = "PGD"
plugin = "pgd"
epsilon = "8/255"
steps = 3
)";

struct SurrogateWorkspace : TempWorkspace {
  explicit SurrogateWorkspace(const std::string& name) : TempWorkspace("surrogate_" + name) {}
  fs::path experiment(const std::string& splits, const std::string& surrogate) const {
    return write("surrogate.toml", std::string(kSurrogateExperiment) + splits + "\n" + kSurrogateModelAndAttack + surrogate);
  }
  ContextFactory contexts() const { return ContextFactory({c10::kCPU, 2, 1, root / "cache"}, host_log()); }
};

// Counts the forward passes made through it, and those whose input asks for a gradient.
class CountingModel : public DifferentiableModel {
 public:
  explicit CountingModel(std::shared_ptr<DifferentiableModel> inner) : inner_(std::move(inner)) {}
  ModelOutput forward(const torch::Tensor& x, const std::vector<std::string>& taps) override {
    ++forwards;
    if (x.requires_grad()) ++gradient_forwards;
    return inner_->forward(x, taps);
  }
  std::vector<std::string> tap_names() const override { return inner_->tap_names(); }
  std::int64_t num_classes() const override { return inner_->num_classes(); }
  Task task() const override { return inner_->task(); }
  std::int64_t forwards = 0, gradient_forwards = 0;

 private:
  std::shared_ptr<DifferentiableModel> inner_;
};

// A white-box attack that asks for the victim: refused under the gray-box capability.
class VictimSeekingAttack : public Attack {
 public:
  AttackResult run(const AttackBatch& batch, Capability& capability, const Objective&, RunContext&) override {
    capability.victim();
    AttackResult r;
    r.adversarial = batch.images.clone();
    return r;
  }
};

std::string first_problem(const std::function<void()>& load) {
  try {
    load();
  } catch (const ValidationError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Surrogate, WithoutAPluginItCopiesTheVictimsArchitectureNotItsCheckpoint) {
  SurrogateWorkspace w("copy");
  const auto loaded = load_experiment(w.experiment("", "[attack.surrogate]\nseed = 7\n"), {}, {});
  const Plan plan = make_plan(loaded->checked);
  ASSERT_EQ(plan.attacks.size(), 1u);
  ASSERT_TRUE(plan.attacks[0].surrogate.has_value());
  const SurrogatePlan& s = *plan.attacks[0].surrogate;
  EXPECT_EQ(s.use->plugin->name(), "small-cnn");
  EXPECT_EQ(s.use->params.get_int("width"), 4);
  EXPECT_EQ(s.split, "disjoint") << "ARCHITECTURE.md: trained on data disjoint from the victim's";
  EXPECT_EQ(s.seed, 7u);
  EXPECT_TRUE(s.use->train_given) << "the victim's [model.train] is the surrogate's recipe too";
}

TEST(Surrogate, ItsSeedDefaultsToTheExperimentsPlusOneAndChangesOnlyAttackTrials) {
  SurrogateWorkspace w("seed");
  const auto first = load_experiment(w.experiment("", "[attack.surrogate]\n"), {}, {});
  const Plan a = make_plan(first->checked);
  EXPECT_EQ(a.attacks[0].surrogate->seed, 3u);
  const auto second = load_experiment(w.experiment("", "[attack.surrogate]\nseed = 9\n"), {}, {});
  const Plan b = make_plan(second->checked);
  ASSERT_EQ(a.trials.size(), b.trials.size());
  for (std::size_t i = 0; i < a.trials.size(); ++i) {
    if (a.trials[i].kind == TrialKind::Clean) EXPECT_EQ(a.trials[i].hash, b.trials[i].hash) << a.trials[i].id;
    else EXPECT_NE(a.trials[i].hash, b.trials[i].hash) << a.trials[i].id;
  }
}

TEST(Surrogate, BadKeysAreReportedWithTheirPlace) {
  SurrogateWorkspace w("bad");
  const std::string split = first_problem(
      [&] { load_experiment(w.experiment("", "[attack.surrogate]\nsplit = \"elsewhere\"\n"), {}, {}); });
  EXPECT_NE(split.find("attack[0].surrogate.split"), std::string::npos) << split;
  EXPECT_NE(split.find("surrogate.toml:"), std::string::npos) << split;
  const std::string plugin =
      first_problem([&] { load_experiment(w.experiment("", "[attack.surrogate]\nplugin = \"fgsm\"\n"), {}, {}); });
  EXPECT_NE(plugin.find("attack[0].surrogate.plugin"), std::string::npos) << plugin;
  const std::string parameter =
      first_problem([&] { load_experiment(w.experiment("", "[attack.surrogate]\nwidht = 8\n"), {}, {}); });
  EXPECT_NE(parameter.find("widht"), std::string::npos) << parameter;
  EXPECT_NE(parameter.find("width"), std::string::npos) << "did you mean: " << parameter;
}

TEST(Surrogate, DisjointWithoutAnUnusedShareIsRefusedBeforeAnyTraining) {
  SurrogateWorkspace w("noshare");
  const auto loaded = load_experiment(w.experiment("", "[attack.surrogate]\n"), {}, {});
  const Plan plan = make_plan(loaded->checked);
  try {
    check_against_data(*loaded, plan);
    FAIL() << "a disjoint surrogate with no unused images was accepted";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("attack[0].surrogate.split"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("leaves 0 of 120"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(w.root / "cache" / "models")) << "nothing was trained";
}

TEST(Surrogate, DisjointTrainsOnImagesNoSplitOfTheVictimHolds) {
  SurrogateWorkspace w("disjoint");
  const auto loaded = load_experiment(
      w.experiment("splits = { train = 0.5, adv_train = 0.14, adv_test = 0.06 }", "[attack.surrogate]\nsplit = \"disjoint\"\n"),
      {}, {});
  const Plan plan = make_plan(loaded->checked);
  const LoadedData data = load_data(plan, 2, 32, w.contexts());
  const auto own = surrogate_splits(*plan.attacks[0].surrogate, "attack[0]", *data.source, data.splits);
  auto used = torch::zeros({data.source->size()}, torch::kBool);
  for (const char* split : {kTrainSplit, kValSplit, kAdvTrainSplit, kAdvTestSplit})
    used.index_fill_(0, data.splits.at(split), true);
  const auto theirs = torch::cat({own.at(kTrainSplit), own.at(kValSplit)});
  EXPECT_FALSE(used.index_select(0, theirs).any().item<bool>()) << "the surrogate saw an image of the victim's splits";
  // 120 images, 0.7 of them the victim's: the other 36, 90/10.
  EXPECT_EQ(theirs.numel(), 36);
  EXPECT_EQ(std::get<0>(at::_unique(theirs)).numel(), 36);
  EXPECT_GT(own.at(kTrainSplit).numel(), own.at(kValSplit).numel());
}

TEST(Surrogate, TheAttackTouchesOnlyTheSurrogateAndTheVictimScoresIt) {
  SurrogateWorkspace w("counting");
  const auto loaded = load_experiment(w.experiment("", "[attack.surrogate]\nsplit = \"train\"\n"), {}, {});
  const Plan plan = make_plan(loaded->checked);
  const ContextFactory contexts = w.contexts();
  const LoadedData data = load_data(plan, 2, 32, contexts);
  auto ctx = contexts("test");
  const ModelSpec spec = model_spec_for(data.source, data.splits.at(kTrainSplit));
  auto victim_module = build_fresh_module(*plan.model, contexts("small-cnn"), spec, *ctx);
  auto victim = std::make_shared<CountingModel>(std::make_shared<ModuleModel>(victim_module, spec.num_classes, spec.task));
  const PreparedSurrogate prepared = prepare_surrogate(*loaded, plan, plan.attacks[0], data, contexts);
  auto surrogate = std::make_shared<CountingModel>(prepared.model);

  AttackRunInputs in;
  in.plan = &plan.attacks[0];
  in.plugin = plan.attacks[0].use->plugin;
  in.attack = in.plugin->create<Attack>(plan.attacks[0].use->params, contexts("pgd"));
  in.model = victim;
  in.surrogate = surrogate;
  in.surrogate_description = prepared.description;
  in.batch_size = 32;
  in.spill_dir = w.root;
  const AttackOutcome outcome = run_attack(in, data.adv_test, *ctx);

  const std::int64_t n = data.adv_test.size(), batches = (n + 31) / 32;
  // The victim: one clean and one scoring forward per batch, none with a gradient.
  EXPECT_EQ(victim->forwards, 2 * batches);
  EXPECT_EQ(victim->gradient_forwards, 0);
  // The surrogate: PGD's 3 steps on every batch (plus its own scoring forward).
  EXPECT_GE(surrogate->gradient_forwards, 3 * batches);
  ASSERT_EQ(outcome.surrogate_prediction.numel(), n);
  EXPECT_EQ(outcome.surrogate, prepared.description);
  EXPECT_LE(outcome.linf.max().item<double>(), 8.0 / 255 + 1e-6);

  // A plugin that reaches for the victim under this capability is refused.
  in.attack = std::make_shared<VictimSeekingAttack>();
  try {
    run_attack(in, data.adv_test, *ctx);
    FAIL() << "the attack reached the victim";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("gray-box"), std::string::npos) << e.what();
  }
}

TEST(Surrogate, ARunTrainsBothModelsAndReportsTheTransfer) {
  SurrogateWorkspace w("run");
  const auto loaded = load_experiment(
      w.experiment("splits = { train = 0.5, adv_train = 0.14, adv_test = 0.06 }", "[attack.surrogate]\nsplit = \"disjoint\"\n"),
      {}, {});
  const Plan plan = make_plan(loaded->checked);
  RunOptions options;
  options.output = w.root / "run";
  const fs::path dir = run_experiment(*loaded, plan, options);
  int weights = 0;
  for (const auto& entry : fs::directory_iterator(w.root / "cache" / "models")) weights += entry.path().extension() == ".pt";
  EXPECT_EQ(weights, 2) << "the victim's weights and the surrogate's";
  bool seen = false;
  for (const auto& line : lines_of((dir / "results.jsonl").string())) {
    if (line.find("\"kind\":\"attack\"") == std::string::npos) continue;
    seen = true;
    EXPECT_NE(field(line, "surrogate").find("disjoint"), std::string::npos) << line;
    EXPECT_FALSE(field(line, "surrogate_robust_accuracy").empty()) << line;
    EXPECT_FALSE(field(line, "attack_success_rate").empty()) << line;
  }
  EXPECT_TRUE(seen);
}
