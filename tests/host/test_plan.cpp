// The trial grid: expansion of variants x attacks x budgets x splits, detector trials,
// and hashes that change exactly for the trials a parameter affects.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "experiment/experiment_check.h"
#include "experiment/plan.h"
#include "experiment/toml_value.h"
#include "loader/registry.h"
#include "host/trial_ids.h"

using namespace medadv::host;

namespace {

const PluginRegistry& registry() {
  static PluginRegistry* r = [] {
    auto* reg = new PluginRegistry();
    reg->discover(build_search_path({{}, {}, true}));
    return reg;
  }();
  return *r;
}

const char* kPlanExperiment = R"(
[experiment]
name = "grid"
[dataset]
plugin = "phantom-fundus"
image_size = 32
count = 100
[model]
plugin = "small-cnn"
[[attack]]
label = "FGSM"
plugin = "fgsm"
epsilon = ["2/255", "8/255"]
[[attack]]
label = "PGD"
plugin = "pgd"
epsilon = "4/255"
steps = 5
)";

struct Checked {
  CheckedExperiment experiment;
  Plan plan;
};

// The plan holds pointers into the experiment: keep both alive together.
std::unique_ptr<Checked> plan_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  medadv::Value root = parse_toml_text(text, "grid.toml");
  for (const auto& o : overrides) apply_override(root, o);
  auto c = std::make_unique<Checked>();
  c->experiment = check_experiment(root, registry());
  c->plan = make_plan(c->experiment);
  return c;
}

std::map<std::string, std::string> hashes(const Plan& plan) {
  std::map<std::string, std::string> h;
  for (const auto& t : plan.trials) h[t.id] = t.hash;
  return h;
}

}  // namespace

TEST(Plan, ExpandsVariantsAttacksBudgetsAndSplits) {
  auto c = plan_of(kPlanExperiment);
  const Plan& plan = c->plan;
  ASSERT_EQ(plan.variants.size(), 1u);
  ASSERT_EQ(plan.attacks.size(), 3u) << "an epsilon list makes one attack per budget";
  EXPECT_EQ(plan.attacks[0].epsilon_text, "2/255");
  EXPECT_EQ(plan.attacks[1].epsilon_text, "8/255");
  EXPECT_NEAR(plan.attacks[1].epsilon, 8.0 / 255, 1e-12);
  // 2 clean + 3 attacks x 2 splits.
  ASSERT_EQ(plan.trials.size(), 8u);
  std::set<std::string> ids;
  for (const auto& t : plan.trials) ids.insert(t.id);
  EXPECT_EQ(ids.size(), plan.trials.size()) << "trial ids are unique";
  EXPECT_TRUE(ids.count("baseline__FGSM__8_255__adv_test"));
  EXPECT_TRUE(ids.count("baseline__PGD__4_255__adv_train"));
  EXPECT_TRUE(ids.count("baseline__clean__adv_test"));
}

TEST(Plan, AttackAdvTrainFalseDropsOnlyTheAdvTrainAttackTrials) {
  const auto all = hashes(plan_of(kPlanExperiment)->plan);
  const std::string detector = std::string(kPlanExperiment) + "[[detector]]\nplugin = \"kd\"\n";
  const auto with_detector = hashes(plan_of(detector)->plan);
  for (const std::string& text : {std::string(kPlanExperiment), detector}) {
    auto c = plan_of(text, {"experiment.attack_adv_train=false"});
    const auto& reference = text == detector ? with_detector : all;
    const auto h = hashes(c->plan);
    std::size_t dropped = 0;
    for (const auto& [id, hash] : reference) {
      const bool adv_train_attack = medadv::testing::is_adv_train_attack_id(id);
      dropped += adv_train_attack;
      if (adv_train_attack) EXPECT_EQ(h.count(id), 0u) << id;
      else EXPECT_EQ(h.count(id) ? h.at(id) : "", hash) << id << " is kept with its hash, so --resume finds it";
    }
    EXPECT_EQ(dropped, 3u);
    EXPECT_EQ(c->plan.trials.size(), reference.size() - 3);
  }
  EXPECT_EQ(with_detector.size(), all.size() + 3) << "one detector trial per attack";
}

TEST(Plan, ChangingAParameterChangesExactlyTheTrialsItAffects) {
  const auto base = hashes(plan_of(kPlanExperiment)->plan);
  const auto steps = hashes(plan_of(kPlanExperiment, {"attack[1].steps=7"})->plan);
  for (const auto& [id, hash] : base) {
    const bool pgd = id.find("__PGD__") != std::string::npos;
    EXPECT_EQ(hash != steps.at(id), pgd) << id;
  }
  const auto seed = hashes(plan_of(kPlanExperiment, {"experiment.seed=5"})->plan);
  for (const auto& [id, hash] : base) EXPECT_NE(hash, seed.at(id)) << "the seed changes the model and data: " << id;
  const auto model = hashes(plan_of(kPlanExperiment, {"model.width=8"})->plan);
  for (const auto& [id, hash] : base) EXPECT_NE(hash, model.at(id)) << id;
  const auto again = hashes(plan_of(kPlanExperiment)->plan);
  EXPECT_EQ(base, again) << "hashes are stable";
}

TEST(Plan, DuplicateLabelsAreRefusedWithTheirPlace) {
  const std::string text = std::string(kPlanExperiment) + "[[attack]]\nlabel = \"PGD\"\nplugin = \"fgsm\"\n";
  try {
    plan_of(text);
    FAIL() << "expected a ValidationError";
  } catch (const medadv::ValidationError& e) {
    EXPECT_NE(std::string(e.what()).find("two attacks are labelled 'PGD'"), std::string::npos) << e.what();
  }
}

// detectors_fit_on: the detectors of "PGD + HFC" are fitted on PGD's adv_train outcome (the
// same budget); their trials' hashes follow PGD, its attack trials do not; a label that is
// not another attack's is refused with its place and a did-you-mean.
TEST(Plan, DetectorsFitOnAnotherAttackAtTheSameBudget) {
  const std::string text = std::string(kPlanExperiment) + R"(
[[attack]]
label = "PGD + HFC"
plugin = "pgd"
epsilon = "4/255"
steps = 5
targeted = true
add = [{ plugin = "hfc", components = 2 }]
detectors_fit_on = "PGD"
[[detector]]
plugin = "kd"
)";
  auto c = plan_of(text);
  const Plan& plan = c->plan;
  ASSERT_EQ(plan.attacks.size(), 4u);
  ASSERT_TRUE(plan.attacks[3].detectors_fit_on.has_value());
  EXPECT_EQ(*plan.attacks[3].detectors_fit_on, 2u);
  EXPECT_FALSE(plan.attacks[2].detectors_fit_on.has_value());

  auto trial_hash = [](const Plan& p, std::size_t attack, TrialKind kind) {
    for (const auto& t : p.trials)
      if (t.attack == attack && t.kind == kind) return t.hash;
    return std::string();
  };
  auto changed = plan_of(text, {"attack[1].steps=7"});
  EXPECT_NE(trial_hash(plan, 3, TrialKind::Detector), trial_hash(changed->plan, 3, TrialKind::Detector));
  EXPECT_EQ(trial_hash(plan, 3, TrialKind::Attack), trial_hash(changed->plan, 3, TrialKind::Attack));

  for (const auto& [bad, expected] : std::vector<std::pair<std::string, std::string>>{
           {"\"PDG\"", "no other attack labelled 'PDG' (did you mean 'PGD'?)"},
           {"\"FGSM\"", "'FGSM' has no budget 4/255 (its budgets: 2/255, 8/255)"},
           {"\"PGD + HFC\"", "names this attack itself"},
           {"3", "expected the label of another [[attack]]"}}) {
    std::string wrong = text;
    wrong.replace(wrong.find("\"PGD\"\n[[detector]]"), 5, bad);
    try {
      plan_of(wrong);
      ADD_FAILURE() << "expected a ValidationError for " << bad;
    } catch (const medadv::ValidationError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("attack[2].detectors_fit_on"), std::string::npos) << e.what();
    }
  }
}

TEST(Plan, DryRunCostCountsStepsPerImage) {
  auto c = plan_of(kPlanExperiment);
  const Plan& plan = c->plan;
  for (const auto& t : plan.trials) {
    const TrialCost cost = cost_per_image(plan, t);
    if (t.kind == TrialKind::Clean) EXPECT_EQ(cost.backward, 0);
    else if (plan.attacks[*t.attack].label == "PGD") EXPECT_EQ(cost.backward, 5) << "steps x restarts";
    else EXPECT_EQ(cost.backward, 1) << "FGSM: one gradient";
  }
  const std::string text = describe_plan(plan, 14, 6);
  EXPECT_NE(text.find("8 trials"), std::string::npos) << text;
}

TEST(Plan, BudgetsGiveEachEpsilonItsOwnParameters) {
  const std::string text = std::string(kPlanExperiment) + R"(
[[attack]]
label = "PGD-survey"
plugin = "pgd"
steps = 20
budgets = [{ epsilon = "1/255", step = "0.5/255" }, { epsilon = "8/255", step = "2/255", steps = 40 }]
)";
  auto c = plan_of(text);
  const Plan& plan = c->plan;
  ASSERT_EQ(plan.attacks.size(), 5u);
  const AttackPlan& low = plan.attacks[3];
  const AttackPlan& high = plan.attacks[4];
  EXPECT_EQ(low.label, "PGD-survey");
  EXPECT_EQ(low.epsilon_text, "1/255");
  EXPECT_NEAR(low.use->params.get_float("step"), 0.5 / 255, 1e-12);
  EXPECT_EQ(low.use->params.get_int("steps"), 20) << "keys beside the list apply to every budget";
  EXPECT_EQ(high.epsilon_text, "8/255");
  EXPECT_NEAR(high.use->params.get_float("step"), 2.0 / 255, 1e-12);
  EXPECT_EQ(high.use->params.get_int("steps"), 40) << "a budget's own keys win";
  EXPECT_NE(hashes(plan).at("baseline__PGD-survey__1_255__adv_test"), hashes(plan).at("baseline__PGD-survey__8_255__adv_test"));

  for (const char* bad : {"budgets = []", "budgets = [{ step = \"1/255\" }]", "epsilon = \"1/255\"\nbudgets = [{ epsilon = \"2/255\" }]",
                          "budgets = [{ epsilon = \"2/255\", stpes = 3 }]"}) {
    const std::string wrong = std::string(kPlanExperiment) + "[[attack]]\nlabel = \"X\"\nplugin = \"pgd\"\n" + bad + "\n";
    EXPECT_THROW(plan_of(wrong), medadv::ValidationError) << bad;
  }
}
