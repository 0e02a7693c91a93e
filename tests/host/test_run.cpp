// `medadv run` end to end on a tiny experiment: the run directory, results that name
// every trial, the npz export, and a run killed with SIGKILL that --resume completes
// without recomputing finished trials and with the same results as an uninterrupted run.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "medadv/npz.h"
#include "host/run_command.h"
#include "host/trial_ids.h"

namespace fs = std::filesystem;

namespace {

const char* kTiny = R"(
[experiment]
name = "tiny"
seed = 1
device = "cpu"
threads = 1
batch_size = 32

[dataset]
plugin = "phantom-fundus"
image_size = 32
count = 240

[model]
plugin = "small-cnn"
width = 8
[model.train]
epochs = 2
batch_size = 32

[[attack]]
label = "FGSM"
plugin = "fgsm"
epsilon = ["2/255", "8/255"]

[[attack]]
label = "PGD"
plugin = "pgd"
epsilon = "8/255"
step = "2/255"
steps = 10

[report]
export = ["npz"]
examples = 4
)";

struct TempRun {
  fs::path root;
  fs::path toml;
  fs::path cache;
  TempRun(const std::string& name) {
    root = fs::path(testing::TempDir()) / ("medadv_run_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    toml = root / "tiny.toml";
    std::ofstream(toml) << kTiny;
    cache = root / "cache";
  }
  std::string env() const { return "MEDADV_CACHE=" + cache.string(); }
};

// The trial's result without what depends on timing.
std::map<std::string, std::string> results_by_trial(const fs::path& file) {
  std::map<std::string, std::string> out;
  for (const auto& line : lines_of(file)) {
    std::string key = field(line, "trial");
    std::string values;
    for (const char* k :
         {"clean_accuracy", "robust_accuracy", "attack_success_rate", "adversarial_confidence", "linf", "l2", "ssim"})
      values += std::string(k) + "=" + field(line, k) + " ";
    out[key] = values;
  }
  return out;
}

}  // namespace

TEST(Run, WritesTheRunDirectoryAndExports) {
  TempRun t("full");
  const fs::path out = t.root / "run";
  auto r = run_medadv("run " + t.toml.string() + " --output " + out.string(), t.env());
  ASSERT_EQ(r.status, 0) << r.all();
  for (const char* f : {"experiment.toml", "resolved.json", "manifest.json", "results.jsonl", "results.csv",
                        "tables.md", "report.html", "log.txt"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  const auto lines = lines_of(out / "results.jsonl");
  ASSERT_EQ(lines.size(), 8u) << "2 clean + 3 attacks x 2 splits";
  const std::string html = slurp((out / "report.html").string());
  for (const auto& line : lines) {
    const std::string trial = field(line, "trial");
    EXPECT_NE(html.find(trial.substr(1, trial.size() - 2)), std::string::npos) << trial << " is named in the report";
  }
  EXPECT_NE(slurp((out / "manifest.json").string()).find("\"sha256\""), std::string::npos);

  // The npz export round-trips: shapes, budget, labels and predictions as recorded.
  const fs::path npz = out / "adversarial" / "baseline__PGD__8_255__adv_test.npz";
  ASSERT_TRUE(fs::exists(npz));
  auto arrays = medadv::read_npz(npz);
  const auto& clean = arrays.at("clean");
  const auto& adversarial = arrays.at("adversarial");
  ASSERT_EQ(clean.dim(), 4);
  EXPECT_EQ(clean.sizes(), adversarial.sizes());
  EXPECT_EQ(clean.scalar_type(), torch::kFloat);
  EXPECT_EQ(arrays.at("labels").scalar_type(), torch::kLong);
  EXPECT_EQ(arrays.at("pred_adversarial").size(0), clean.size(0));
  EXPECT_LE((adversarial - clean).abs().max().item<double>(), 8.0 / 255 + 1e-6) << "inside the budget";
  EXPECT_GE(adversarial.min().item<double>(), 0.0);
  EXPECT_LE(adversarial.max().item<double>(), 1.0);
  // The recorded robust accuracy equals the one computed from the exported predictions.
  std::string pgd_line;
  for (const auto& line : lines)
    if (line.find("\"trial\":\"baseline__PGD__8_255__adv_test\"") != std::string::npos) pgd_line = line;
  ASSERT_FALSE(pgd_line.empty());
  const double robust = arrays.at("pred_adversarial").eq(arrays.at("labels")).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(std::stod(field(pgd_line, "robust_accuracy")), robust, 1e-9);
  // The turned images' probability of their new class: past the boundary of a binary task.
  ASSERT_GT(std::stod(field(pgd_line, "attack_success_rate")), 0.0) << pgd_line;
  const double confidence = std::stod(field(pgd_line, "adversarial_confidence"));
  EXPECT_GE(confidence, 0.5);
  EXPECT_LE(confidence, 1.0);
  // And so is the robust accuracy within each class.
  const auto& labels = arrays.at("labels");
  for (std::int64_t k = 0; k < 2; ++k) {
    const auto in_class = labels.eq(k);
    ASSERT_GT(in_class.sum().item<std::int64_t>(), 0) << "class " << k << " is in adv_test";
    const double expected = arrays.at("pred_adversarial").index({in_class}).eq(k).to(torch::kDouble).mean().item<double>();
    const std::string key = "robust_accuracy.class" + std::to_string(k);
    ASSERT_FALSE(field(pgd_line, key).empty()) << key << " in " << pgd_line;
    EXPECT_NEAR(std::stod(field(pgd_line, key)), expected, 1e-9) << key;
  }

  // A second run reuses the cached weights.
  auto again = run_medadv("run " + t.toml.string() + " --output " + (t.root / "run2").string(), t.env());
  ASSERT_EQ(again.status, 0) << again.all();
  EXPECT_NE(again.all().find("cached weights"), std::string::npos) << again.all();
  EXPECT_EQ(results_by_trial(out / "results.jsonl"), results_by_trial(t.root / "run2" / "results.jsonl"));

  // Without the adv_train attacks: the adv_test trials are the same, nothing else is attacked.
  auto test_only = run_medadv("run " + t.toml.string() + " --output " + (t.root / "run3").string() +
                                  " --set experiment.attack_adv_train=false",
                              t.env());
  ASSERT_EQ(test_only.status, 0) << test_only.all();
  auto expected = results_by_trial(out / "results.jsonl");
  for (auto it = expected.begin(); it != expected.end();)
    it = medadv::testing::is_adv_train_attack_id(it->first) ? expected.erase(it) : std::next(it);
  ASSERT_EQ(expected.size(), 5u) << "2 clean + 3 attacks on adv_test";
  EXPECT_EQ(results_by_trial(t.root / "run3" / "results.jsonl"), expected);

  // An existing run directory is never overwritten without --resume.
  auto refused = run_medadv("run " + t.toml.string() + " --output " + out.string(), t.env());
  EXPECT_EQ(refused.status, 2) << refused.all();
  EXPECT_NE(refused.all().find("--resume"), std::string::npos) << refused.all();
}

TEST(Run, ResumeAfterSigkillLosesNothingAndRecomputesNothing) {
  TempRun t("resume");
  // A slow PGD, so that the kill lands mid-grid; training happens once, here.
  const std::string slow = " --set attack[1].steps=400";
  const fs::path reference = t.root / "reference";
  auto r = run_medadv("run " + t.toml.string() + slow + " --output " + reference.string(), t.env());
  ASSERT_EQ(r.status, 0) << r.all();

  const fs::path out = t.root / "killed";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv("MEDADV_CACHE", t.cache.c_str(), 1);
    const std::string log = (t.root / "killed.log").string();
    if (!freopen(log.c_str(), "w", stderr) || !freopen(log.c_str(), "a", stdout)) _exit(126);
    execl(MEDADV_BINARY, MEDADV_BINARY, "run", t.toml.c_str(), "--set", "attack[1].steps=400", "--output", out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Kill it once some, not all, trials are finished.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::size_t finished = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    finished = lines_of(out / "results.jsonl").size();
    if (finished >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  const auto before = lines_of(out / "results.jsonl");
  ASSERT_GE(before.size(), 3u);
  ASSERT_LT(before.size(), 8u);

  auto resumed = run_medadv("run " + t.toml.string() + slow + " --output " + out.string() + " --resume", t.env());
  ASSERT_EQ(resumed.status, 0) << resumed.all();
  const auto after = lines_of(out / "results.jsonl");
  ASSERT_EQ(after.size(), 8u);
  for (std::size_t i = 0; i < before.size(); ++i)
    if (before[i].back() == '}') EXPECT_EQ(after[i], before[i]) << "finished trials are kept, not recomputed";
  EXPECT_NE(resumed.all().find("already finished"), std::string::npos) << resumed.all();
  EXPECT_EQ(results_by_trial(out / "results.jsonl"), results_by_trial(reference / "results.jsonl"))
      << "the resumed run's results equal an uninterrupted run's";
}

TEST(Run, DryRunPrintsTheGridAndRunsNothing) {
  TempRun t("dry");
  auto r = run_medadv("run " + t.toml.string() + " --dry-run --output " + (t.root / "nothing").string(), t.env());
  ASSERT_EQ(r.status, 0) << r.all();
  EXPECT_NE(r.out.find("8 trials"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("baseline__PGD__8_255__adv_test"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("estimated cost"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(t.root / "nothing"));
  EXPECT_FALSE(fs::exists(t.cache / "models")) << "nothing trained";
}

TEST(Run, RefusesWhatTheTaskCannotSupportBeforeTraining) {
  TempRun t("task");
  std::ofstream(t.toml, std::ios::app) << R"(
[[attack]]
label = "PGD-DLR"
plugin = "pgd"
loss = "dlr"
)";
  auto r = run_medadv("run " + t.toml.string() + " --output " + (t.root / "run").string(), t.env());
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_NE(r.all().find("attack[2]"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("DLR loss needs 3 classes or more; this task has 2"), std::string::npos) << r.all();
  EXPECT_FALSE(fs::exists(t.cache / "models")) << "nothing trained";
}

// A tap a detector asks for, by its own `taps` or by the experiment's `layers`, that the
// model lacks: refused with the detector, the tap and what the model offers, before training.
TEST(Run, RefusesDetectorTapsTheModelLacksBeforeTraining) {
  TempRun t("detector-taps");
  std::ofstream(t.toml, std::ios::app) << R"(
[[detector]]
plugin = "lid"
taps = ["block1", "block9"]

[[detector]]
plugin = "kd"
layers = ["block2", "block7"]

[[detector]]
plugin = "mahalanobis"
layers = ["block1", "block2"]
taps = ["penultimate"]

[[detector]]
plugin = "mgm"
)";
  auto r = run_medadv("run " + t.toml.string() + " --output " + (t.root / "run").string(), t.env());
  EXPECT_EQ(r.status, 2) << r.all();
  for (const char* expected : {"detector[0] (detector 'lid'", "'block9'", "did you mean 'block1'",
                               "detector[1].layers (detector 'kd'", "has no tap 'block7'",
                               "detector[2] (detector 'mahalanobis'", "'penultimate'"})
    EXPECT_NE(r.all().find(expected), std::string::npos) << expected << "\n" << r.all();
  EXPECT_EQ(r.all().find("detector[3]"), std::string::npos) << "mgm's default taps exist\n" << r.all();
  EXPECT_FALSE(fs::exists(t.cache / "models")) << "nothing trained";

  // `validate` reads no data, so it cannot know the model's taps; `validate --data` can.
  auto file_only = run_medadv("validate " + t.toml.string(), t.env());
  EXPECT_EQ(file_only.status, 0) << file_only.all();
  auto with_data = run_medadv("validate " + t.toml.string() + " --data", t.env());
  EXPECT_EQ(with_data.status, 2) << with_data.all();
  EXPECT_EQ(with_data.all().substr(with_data.all().find("error:")), r.all().substr(r.all().find("error:")))
      << "the same problems as run";
  EXPECT_FALSE(fs::exists(t.cache / "models")) << "nothing trained";
  auto fitting = run_medadv("validate " + t.toml.string() + " --data --set 'detector[0].taps=[\"block1\"]'" +
                                " --set 'detector[1].layers=[\"penultimate\"]' --set 'detector[2].taps=[\"block1\"]'",
                            t.env());
  EXPECT_EQ(fitting.status, 0) << fitting.all();
  EXPECT_NE(fitting.all().find("valid (checked against the data)"), std::string::npos) << fitting.all();
}
