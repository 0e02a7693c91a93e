// Results are never lost or mixed (issue 24, class 3): trial ids are injective over the
// labels and budgets that make them, results.jsonl with CRLF line ends resumes, --resume
// refuses another experiment's run, and the weights cache holds one set of weights per
// key whichever command trained them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/results_log.h"
#include "engine/run_directory.h"
#include "experiment/experiment_check.h"
#include "experiment/plan.h"
#include "experiment/toml_value.h"
#include "host/edge_input_support.h"
#include "host/run_command.h"
#include "loader/registry.h"
#include "medadv/error.h"

namespace fs = std::filesystem;
using medadv::host::ResultsLog;

namespace {

const char* kIdentityHead = R"(
[experiment]
name = "ids"
[dataset]
plugin = "phantom-fundus"
image_size = 32
count = 100
[model]
plugin = "small-cnn"
)";

// The problems make_plan reports for kIdentityHead + `rest`, joined ("" when it plans).
std::string plan_problems(const std::string& rest) {
  const medadv::Value root = medadv::host::parse_toml_text(std::string(kIdentityHead) + rest, "ids.toml");
  const auto checked = medadv::host::check_experiment(root, medadv::testing::built_in_plugins());
  try {
    medadv::host::make_plan(checked);
  } catch (const medadv::ValidationError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(TrialIds, LabelsThatShareAFileNameAreRefused) {
  // The issue's input: "P Q" and "P_Q" both became trial id baseline__P_Q__..., one attack vanished.
  const std::string problems = plan_problems(R"(
[[attack]]
label = "P Q"
plugin = "fgsm"
epsilon = "8/255"
[[attack]]
label = "P_Q"
plugin = "fgsm"
epsilon = "4/255"
)");
  EXPECT_TRUE(contains(problems, "attack[1].label")) << problems;
  EXPECT_TRUE(contains(problems, "'P_Q' and 'P Q'")) << problems;
  EXPECT_TRUE(contains(problems, "share the file name 'P_Q'")) << problems;
  // Defenses and detectors alike.
  const std::string detectors = plan_problems(R"(
[[attack]]
plugin = "fgsm"
[[detector]]
label = "k/d"
plugin = "kd"
[[detector]]
label = "k:d"
plugin = "kd"
)");
  EXPECT_TRUE(contains(detectors, "detector[1].label")) << detectors;
  EXPECT_EQ(plan_problems("[[attack]]\nlabel = \"P Q\"\nplugin = \"fgsm\"\n[[attack]]\nlabel = \"PQ\"\nplugin = \"fgsm\"\n"),
            "")
      << "labels distinct as file names plan";
}

TEST(TrialIds, IdsThatCollideAcrossLabelsAndBudgetsAreRefused) {
  // A detector labelled like a split: attack trial "baseline__FGSM__adv_test" twice.
  const std::string split_like = plan_problems(R"(
[[attack]]
label = "FGSM"
plugin = "fgsm"
epsilon = "8/255"
[[detector]]
label = "adv_test"
plugin = "kd"
)");
  EXPECT_TRUE(contains(split_like, "detector[0].label")) << split_like;
  EXPECT_TRUE(contains(split_like, "would both be trial 'baseline__FGSM__8_255__adv_test'")) << split_like;
  // A budget written twice.
  const std::string repeated = plan_problems(R"(
[[attack]]
label = "FGSM"
plugin = "fgsm"
epsilon = ["8/255", "2/255", "8/255"]
)");
  EXPECT_TRUE(contains(repeated, "attack[0].epsilon")) << repeated;
  EXPECT_TRUE(contains(repeated, "'baseline__FGSM__8_255__adv_test'")) << repeated;
}

TEST(ResultsLog, CrlfLineEndsKeepEveryFinishedTrial) {
  // The issue's input: results.jsonl saved with CRLF ends; --resume dropped every line.
  const fs::path dir = scratch_dir("crlf");
  const std::string text = "{\"trial\":\"a\",\"hash\":\"h1\"}\r\n{\"trial\":\"b\",\"hash\":\"h2\"}\r\n";
  write_text(dir / "results.jsonl", text);
  ResultsLog log(dir / "results.jsonl");
  EXPECT_TRUE(log.finished("h1"));
  EXPECT_TRUE(log.finished("h2"));
  EXPECT_EQ(log.size(), 2u);
  EXPECT_EQ(log.dropped_lines(), 0);
  EXPECT_EQ(slurp((dir / "results.jsonl").string()), text) << "nothing rewritten";

  // A torn last line (a crash mid-write) is dropped; a complete one without its newline kept.
  write_text(dir / "torn.jsonl", "{\"trial\":\"a\",\"hash\":\"h1\"}\r\n{\"trial\":\"b\",\"ha");
  ResultsLog torn(dir / "torn.jsonl");
  EXPECT_EQ(torn.size(), 1u);
  EXPECT_EQ(torn.dropped_lines(), 1);
  EXPECT_EQ(slurp((dir / "torn.jsonl").string()), "{\"trial\":\"a\",\"hash\":\"h1\"}\n");
  write_text(dir / "unended.jsonl", "{\"trial\":\"a\",\"hash\":\"h1\"}");
  ResultsLog unended(dir / "unended.jsonl");
  EXPECT_TRUE(unended.finished("h1"));
  EXPECT_EQ(slurp((dir / "unended.jsonl").string()), "{\"trial\":\"a\",\"hash\":\"h1\"}\n") << "the next append starts a line";

  // Any other line that is not a result is refused rather than silently rerun.
  write_text(dir / "bad.jsonl", "{\"trial\":\"a\",\"hash\":\"h1\"}\nnot json\n{\"trial\":\"b\",\"hash\":\"h2\"}\n");
  try {
    ResultsLog bad(dir / "bad.jsonl");
    FAIL() << "expected InvalidInput";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_TRUE(contains(e.what(), "bad.jsonl:2: not a trial result")) << e.what();
  }
}

TEST(RunDirectory, ResumeRefusesAnotherExperimentsRun) {
  const fs::path dir = scratch_dir("resume");
  write_text(dir / "resolved.json", "{}\n");
  write_text(dir / "manifest.json", R"({"experiment":"first","status":"finished","model_hash":"aaaa1111bbbb2222"})");
  using medadv::host::open_run_directory;
  EXPECT_NO_THROW(open_run_directory({"first", dir, true, "aaaa1111bbbb2222"}));
  try {
    open_run_directory({"second", dir, true, "aaaa1111bbbb2222"});
    FAIL() << "expected InvalidInput";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_TRUE(contains(e.what(), "holds a run of experiment 'first', not 'second'")) << e.what();
  }
  try {
    open_run_directory({"first", dir, true, "cccc3333dddd4444"});
    FAIL() << "expected InvalidInput";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_TRUE(contains(e.what(), "another data set, model, training or seed")) << e.what();
  }
}

// `medadv run` and `medadv train` on one tiny experiment (no attacks: clean trials only).
class RunIdentity : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    write_text(dir_ / "exp.toml", R"([experiment]
name = "identity"
seed = 1
device = "cpu"
threads = 1
[dataset]
plugin = "phantom-fundus"
image_size = 16
count = 80
[model]
plugin = "small-cnn"
width = 4
[model.train]
epochs = 2
batch_size = 16
)");
  }
  CommandResult medadv(const std::string& args, const std::string& cache = "cache") const {
    return run_medadv(args, "MEDADV_CACHE=" + (dir_ / cache).string() + " MEDADV_PLUGIN_PATH= XDG_DATA_HOME=" +
                                (dir_ / "xdg").string());
  }
  std::string exp() const { return (dir_ / "exp.toml").string(); }
  // The one weights file in a cache, by file name, and its bytes.
  std::pair<std::string, std::string> cached_weights(const std::string& cache) const {
    std::pair<std::string, std::string> found;
    for (const auto& e : fs::directory_iterator(dir_ / cache / "models"))
      if (e.path().extension() == ".pt") found = {e.path().filename().string(), slurp(e.path().string())};
    return found;
  }
  fs::path dir_;
};

TEST_F(RunIdentity, RunAndTrainStoreTheSameWeightsUnderOneKey) {
  const auto trained = medadv("train " + exp(), "by-train");
  ASSERT_EQ(trained.status, 0) << trained.all();
  const auto run = medadv("run " + exp() + " --output " + (dir_ / "run").string(), "by-run");
  ASSERT_EQ(run.status, 0) << run.all();
  const auto by_train = cached_weights("by-train"), by_run = cached_weights("by-run");
  ASSERT_FALSE(by_train.first.empty());
  EXPECT_EQ(by_train.first, by_run.first) << "one key";
  EXPECT_TRUE(by_train.second == by_run.second) << "the same weights under it";

  // An unreadable cached training report trains again from scratch: the same weights.
  const fs::path report = dir_ / "by-train" / "models" / fs::path(by_train.first).replace_extension(".json");
  write_text(report, "{ not a report");
  const auto again = medadv("train " + exp(), "by-train");
  ASSERT_EQ(again.status, 0) << again.all();
  EXPECT_TRUE(contains(again.all(), "cached weights unusable, training again")) << again.all();
  EXPECT_TRUE(cached_weights("by-train").second == by_train.second) << "trained from the cached weights instead";
}

TEST_F(RunIdentity, ResumeKeepsCrlfResultsAndRefusesAnotherExperiment) {
  const fs::path out = dir_ / "run";
  const auto first = medadv("run " + exp() + " --output " + out.string());
  ASSERT_EQ(first.status, 0) << first.all();
  // The file as an editor on Windows saves it.
  std::string crlf;
  for (const auto& line : lines_of((out / "results.jsonl").string())) crlf += line + "\r\n";
  write_text(out / "results.jsonl", crlf);
  const auto resumed = medadv("run " + exp() + " --output " + out.string() + " --resume");
  ASSERT_EQ(resumed.status, 0) << resumed.all();
  EXPECT_TRUE(contains(resumed.all(), "2 trial(s) were already finished and kept")) << resumed.all();
  EXPECT_TRUE(contains(resumed.all(), "0 trial(s) run")) << resumed.all();
  EXPECT_EQ(slurp((out / "results.jsonl").string()), crlf);

  // Another experiment (another name, or another seed) is refused before anything is written.
  const std::string resolved = slurp((out / "resolved.json").string());
  const std::string manifest = slurp((out / "manifest.json").string());
  for (const char* other : {"experiment.name=other", "experiment.seed=2"}) {
    const auto mixed = medadv("run " + exp() + " --set " + other + " --output " + out.string() + " --resume");
    EXPECT_EQ(mixed.status, 2) << other << "\n" << mixed.all();
    EXPECT_TRUE(contains(mixed.err, "resuming would mix the two")) << mixed.err;
    EXPECT_EQ(slurp((out / "resolved.json").string()), resolved);
    EXPECT_EQ(slurp((out / "manifest.json").string()), manifest);
    EXPECT_EQ(slurp((out / "results.jsonl").string()), crlf);
  }
}
