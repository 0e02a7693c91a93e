// The CLI as a user meets it: help for every command, exit codes 0 / 1 / 2, and the
// experiment and scaffolding commands.
#include <gtest/gtest.h>

#include <filesystem>

#include "host/run_command.h"

namespace {
const std::string kGood = MEDADV_TEST_DATA "/experiments/good.toml";
}  // namespace

TEST(Cli, VersionNamesTheBuild) {
  const auto r = run_medadv("--version");
  EXPECT_EQ(r.status, 0) << r.all();
  EXPECT_TRUE(contains(r.out, "plugin ABI 1.0")) << r.out;
  EXPECT_TRUE(contains(r.out, "LibTorch ")) << r.out;
}

TEST(Cli, EveryCommandHasHelp) {
  for (const char* command : {"plugins list", "plugins info", "plugins check", "plugins check-child", "plugins reference",
                              "new", "validate", "run", "report", "train", "datasets preview"}) {
    const auto r = run_medadv(std::string(command) + " --help");
    EXPECT_EQ(r.status, 0) << command << "\n" << r.all();
    EXPECT_TRUE(contains(r.out, std::string("Usage: medadv ") + command)) << r.out;
    EXPECT_TRUE(contains(r.out, "--plugin-path")) << r.out;
  }
  const auto general = run_medadv("--help");
  EXPECT_EQ(general.status, 0);
  EXPECT_TRUE(contains(general.out, "plugins check")) << general.out;
  EXPECT_FALSE(contains(general.out, "check-child")) << "internal commands stay hidden";
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_medadv("").status, 2);
  const auto unknown = run_medadv("plugin list");
  EXPECT_EQ(unknown.status, 2);
  EXPECT_TRUE(contains(unknown.err, "unknown command 'plugin'")) << unknown.err;
  const auto option = run_medadv("plugins list --bogus");
  EXPECT_EQ(option.status, 2);
  EXPECT_TRUE(contains(option.err, "bogus")) << option.err;
  EXPECT_EQ(run_medadv("plugins list --kind atack").status, 2);
  EXPECT_EQ(run_medadv("plugins info no-such-plugin").status, 2);
  EXPECT_EQ(run_medadv("validate /nonexistent.toml").status, 2);
}

TEST(Cli, ListsAndDescribesBuiltInPlugins) {
  const auto list = run_medadv("plugins list");
  EXPECT_EQ(list.status, 0) << list.all();
  for (const char* name : {"fgsm", "pgd", "small-cnn", "phantom-fundus"}) EXPECT_TRUE(contains(list.out, name)) << name;
  const auto json = run_medadv("plugins list --kind attack --json");
  EXPECT_EQ(json.status, 0);
  EXPECT_TRUE(contains(json.out, "\"name\":\"pgd\"")) << json.out;
  EXPECT_FALSE(contains(json.out, "\"kind\":\"model\""));
  const auto info = run_medadv("plugins info pgd");
  EXPECT_EQ(info.status, 0) << info.all();
  EXPECT_TRUE(contains(info.out, "threat model: white-box")) << info.out;
  EXPECT_TRUE(contains(info.out, "epsilon")) << info.out;
  EXPECT_TRUE(contains(info.out, "\"8/255\"")) << info.out;
}

TEST(Cli, ValidateReportsEveryErrorWithItsPlace) {
  const auto good = run_medadv("validate " + kGood);
  EXPECT_EQ(good.status, 0) << good.all();
  EXPECT_TRUE(contains(good.out, "valid")) << good.out;
  const auto bad = run_medadv("validate " MEDADV_TEST_DATA "/experiments/bad/several_errors.toml");
  EXPECT_EQ(bad.status, 2) << bad.all();
  EXPECT_TRUE(contains(bad.err, "3 errors")) << bad.err;
  EXPECT_TRUE(contains(bad.err, "several_errors.toml:14:9: key 'attack[0].steps' (plugin pgd)")) << bad.err;
  const auto overridden = run_medadv("validate " + kGood + " --set 'attack[0].epsilon=\"8/0\"'");
  EXPECT_EQ(overridden.status, 2);
  EXPECT_TRUE(contains(overridden.err, "zero denominator")) << overridden.err;
}

TEST(Cli, RunValidatesEverythingBeforeAnyWork) {
  const std::string out = testing::TempDir() + "/run_invalid";
  std::filesystem::remove_all(out);
  const auto r = run_medadv("run " + kGood + " --set 'attack[1].epsilon=\"8/0\"' --output " + out);
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "zero denominator")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out)) << "nothing is written for an invalid experiment";
}

TEST(Cli, NewWritesAFolderAndNeverOverwrites) {
  const std::string dir = testing::TempDir() + "/new_cmd";
  std::filesystem::remove_all(dir);
  for (const char* kind : {"attack", "attack-term", "preprocessor", "trainer", "wrapper", "detector", "dataset", "model"}) {
    const std::string name = std::string("my-") + kind;
    const auto r = run_medadv(std::string("new ") + kind + " " + name + " --dir " + dir);
    EXPECT_EQ(r.status, 0) << r.all();
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + name + "/CMakeLists.txt")) << kind;
  }
  const auto again = run_medadv("new attack my-attack --dir " + dir);
  EXPECT_EQ(again.status, 2);
  EXPECT_TRUE(contains(again.err, "already exists")) << again.err;
  EXPECT_EQ(run_medadv("new atack x --dir " + dir).status, 2);
  const auto bad_name = run_medadv("new attack My_Attack --dir " + dir);
  EXPECT_EQ(bad_name.status, 2);
}
