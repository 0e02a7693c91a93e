// A run directory written by an earlier medadv (tests/data/runs/earlier-run: medadv at
// 3a2b22c, before JSON, hashing and the zip container moved to libraries) still resumes and
// still reports: its trial hashes are the ones this version computes, and its files parse.
// Its results.jsonl lacks the last two trials of the grid, as if the run had been stopped.
#include <unistd.h>

#include <filesystem>

#include "host/run_command.h"

namespace fs = std::filesystem;

namespace {

const fs::path kEarlierRun = fs::path(MEDADV_TEST_DATA) / "runs" / "earlier-run";

fs::path copy_of_earlier_run(const std::string& name) {
  const fs::path copy = fs::path(testing::TempDir()) / ("medadv_earlier_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(copy);
  fs::copy(kEarlierRun, copy, fs::copy_options::recursive);
  return copy;
}

}  // namespace

TEST(EarlierRun, ResumeRunsOnlyTheTrialsItLacks) {
  const fs::path run = copy_of_earlier_run("resume");
  const auto before = lines_of(run / "results.jsonl");
  ASSERT_EQ(before.size(), 4u);
  const std::string cache = "MEDADV_CACHE=" + (run.parent_path() / (run.filename().string() + "_cache")).string();
  auto resumed = run_medadv("run " + (run / "experiment.toml").string() + " --output " + run.string() + " --resume", cache);
  ASSERT_EQ(resumed.status, 0) << resumed.all();
  EXPECT_NE(resumed.all().find("4 trial(s) were already finished and kept"), std::string::npos) << resumed.all();
  EXPECT_NE(resumed.all().find("2 trial(s) run"), std::string::npos) << resumed.all();
  const auto after = lines_of(run / "results.jsonl");
  ASSERT_EQ(after.size(), 6u);
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], before[i]) << "earlier results are kept as written";
  EXPECT_EQ(field(after[4], "trial"), "\"baseline__FGSM__8_255__adv_train\"");
  EXPECT_EQ(field(after[5], "trial"), "\"baseline__FGSM__8_255__adv_test\"");
}

TEST(EarlierRun, ReportReadsIt) {
  const fs::path run = copy_of_earlier_run("report");
  auto report = run_medadv("report " + run.string());
  ASSERT_EQ(report.status, 0) << report.all();
  const std::string html = slurp((run / "report.html").string());
  for (const auto& line : lines_of(run / "results.jsonl")) {
    const std::string trial = field(line, "trial");
    EXPECT_NE(html.find(trial.substr(1, trial.size() - 2)), std::string::npos) << trial << " is named in the report";
  }
  const std::string manifest = slurp((run / "manifest.json").string());
  const std::string library_hash = manifest.substr(manifest.find("\"sha256\":\"") + 10, 12);
  EXPECT_NE(html.find(library_hash), std::string::npos) << "the manifest's plugins are listed";
}
