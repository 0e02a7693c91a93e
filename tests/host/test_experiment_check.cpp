// Experiment validation: a folder of bad experiment files, each with the message it
// must produce (its "# expect:" lines), plus overrides and the good path.
#include <gtest/gtest.h>

#include <fstream>

#include "experiment/experiment_check.h"
#include "experiment/toml_value.h"
#include "loader/registry.h"

using namespace medadv::host;

namespace {

const std::string kData = MEDADV_TEST_DATA "/experiments";

const PluginRegistry& builtin_registry() {
  static PluginRegistry* registry = [] {
    auto* r = new PluginRegistry();
    r->discover(build_search_path({{}, {}, true}));
    return r;
  }();
  return *registry;
}

std::vector<std::string> expectations(const std::string& file) {
  std::ifstream in(file);
  std::vector<std::string> expected;
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("# expect: ", 0) == 0) expected.push_back(line.substr(10));
  return expected;
}

std::string validation_message(const std::string& file) {
  try {
    check_experiment(load_toml_file(file), builtin_registry());
  } catch (const medadv::ValidationError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ExperimentCheck, GoodExperimentResolvesEveryDefault) {
  const auto checked = check_experiment(load_toml_file(kData + "/good.toml"), builtin_registry());
  EXPECT_EQ(checked.name, "cli-test");
  EXPECT_EQ(checked.seed, 3u);
  EXPECT_EQ(checked.device, "cpu");
  EXPECT_EQ(checked.cuda_math, medadv::CudaMath::Reproducible);
  ASSERT_EQ(checked.uses.size(), 4u);
  const auto* attacks = checked.resolved.find("attack");
  ASSERT_NE(attacks, nullptr);
  const auto& pgd = attacks->as_array()[1];
  EXPECT_EQ(pgd.find("epsilon")->as_string(), "8/255");
  EXPECT_EQ(pgd.find("steps")->as_int(), 5);
  EXPECT_NE(pgd.find("random_start"), nullptr) << "defaults are filled in";
  EXPECT_EQ(pgd.find("label")->as_string(), "PGD");
}

TEST(ExperimentCheck, EveryBadFileGivesItsMessage) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kData + "/bad")) {
    ++files;
    const std::string file = entry.path().string();
    const auto expected = expectations(file);
    ASSERT_FALSE(expected.empty()) << file << " has no '# expect:' line";
    const std::string message = validation_message(file);
    ASSERT_FALSE(message.empty()) << file << " was accepted";
    for (const auto& e : expected) EXPECT_NE(message.find(e), std::string::npos) << file << "\n" << message;
  }
  EXPECT_GE(files, 10);
}

TEST(ExperimentCheck, OverridesReachNestedKeysAndArrays) {
  auto root = load_toml_file(kData + "/good.toml");
  apply_override(root, "attack[1].steps=7");
  apply_override(root, "model.train.epochs=2");
  apply_override(root, "experiment.device=cpu");  // a bare word is a string
  apply_override(root, "experiment.cuda_math=fast");
  const auto checked = check_experiment(root, builtin_registry());
  EXPECT_EQ(checked.cuda_math, medadv::CudaMath::Fast);
  EXPECT_EQ(checked.resolved.find("attack")->as_array()[1].find("steps")->as_int(), 7);
  EXPECT_EQ(root.find("model")->find("train")->find("epochs")->as_int(), 2);
  apply_override(root, "attack[0].epsilon=\"8/0\"");
  EXPECT_THROW(check_experiment(root, builtin_registry()), medadv::ValidationError);
  EXPECT_THROW(apply_override(root, "attack[9].steps=1"), medadv::InvalidInput);
  EXPECT_THROW(apply_override(root, "noequals"), medadv::InvalidInput);
}

TEST(ExperimentCheck, OverrideIndexesMustBeNonNegativeNumbers) {
  auto root = load_toml_file(kData + "/good.toml");
  for (const char* assignment : {"attack[x].steps=1", "attack[].steps=1", "attack[-1].steps=1", "attack[1e3].steps=1",
                                 "attack[99999999999999999999].steps=1", "attack[-1]=3", "attack[ 1].steps=1"}) {
    try {
      apply_override(root, assignment);
      ADD_FAILURE() << assignment << " was accepted";
    } catch (const medadv::InvalidInput& e) {
      const std::string message = e.what();
      EXPECT_TRUE(message.find("malformed index") != std::string::npos ||
                  message.find("is not an index") != std::string::npos)
          << message;
    }
  }
  // Nothing was changed on the way: "attack[-1]=3" once replaced the whole attack array.
  EXPECT_EQ(root.find("attack")->type(), medadv::Value::Type::Array);
  apply_override(root, "attack[0].steps=3");
  EXPECT_EQ(root.find("attack")->as_array()[0].find("steps")->as_int(), 3);
}

TEST(ExperimentCheck, TomlLocationsArePrecise) {
  const auto root = parse_toml_text("[a]\nx = 1\n  y = \"z\"\n", "mem.toml");
  EXPECT_EQ(root.find("a")->find("y")->where().to_string(), "mem.toml:3:7");
}

// A schema's rules between parameters (ParamSchema::add_check) are reported like a range:
// at the value the rule blames, with its key and plugin; each budget of a list on its own.
TEST(ExperimentCheck, SchemaRulesCarryTheLocationKeyAndPlugin) {
  const auto root = parse_toml_text(
      "[dataset]\nplugin = \"phantom-fundus\"\n[model]\nplugin = \"small-cnn\"\n"
      "[[attack]]\nplugin = \"pgd\"\nepsilon = [\"1/255\", \"3/2\"]\n"
      "[[attack]]\nplugin = \"pgd\"\nnorm = \"l2\"\nepsilon = \"3/2\"\n"
      "[[detector]]\nplugin = \"kd\"\nbandwidth = \"wide\"\n",
      "rules.toml");
  try {
    check_experiment(root, builtin_registry());
    FAIL() << "the rules were not applied";
  } catch (const medadv::ValidationError& e) {
    const auto& problems = e.diagnostics();
    ASSERT_EQ(problems.size(), 2u) << e.what();  // an L2 radius of 1.5 breaks no rule
    EXPECT_EQ(problems[0].where.to_string(), "rules.toml:7:21");
    EXPECT_EQ(problems[0].key, "attack[0].epsilon");
    EXPECT_EQ(problems[0].plugin, "pgd");
    EXPECT_EQ(problems[0].message, "an L-inf epsilon above 1 (3/2) exceeds the [0,1] pixel range");
    EXPECT_EQ(problems[1].where.to_string(), "rules.toml:14:13");
    EXPECT_EQ(problems[1].key, "detector[0].bandwidth");
    EXPECT_EQ(problems[1].plugin, "kd");
    EXPECT_NE(problems[1].message.find("\"auto\" or a positive number, got \"wide\""), std::string::npos);
  }
}
