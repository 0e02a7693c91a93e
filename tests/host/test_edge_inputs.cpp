// Edge inputs refused up front with a clear message and exit status 2 (issue 24,
// class 6): single-class and non-UTF-8 data sets, a count beyond memory, a target class
// that does not exist, a directory where a file belongs, captions without end, a negative
// check timeout, and a run name that leaves runs/.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/task_check.h"
#include "experiment/experiment_check.h"
#include "experiment/plan.h"
#include "experiment/toml_value.h"
#include "host/edge_input_support.h"
#include "host/run_command.h"
#include "loader/registry.h"
#include "medadv/error.h"
#include "medadv/image_io.h"
#include "medadv/testing.h"
#include "report/report.h"
#include "train/model_provider.h"

namespace fs = std::filesystem;

namespace {

std::shared_ptr<medadv::DataSource> contents_with_classes(std::vector<std::string> names) {
  medadv::DatasetContents d;
  d.images = torch::rand({4, 1, 16, 16});
  d.labels = torch::zeros({4}, torch::kLong);
  d.meta.class_names = std::move(names);
  return medadv::tensor_source(std::move(d));
}

CommandResult validate(const fs::path& dir, const std::string& toml, const std::string& flags = "") {
  std::ofstream(dir / "exp.toml") << toml;
  return run_medadv("validate " + (dir / "exp.toml").string() + " " + flags,
                    "MEDADV_CACHE=" + (dir / "cache").string() + " MEDADV_PLUGIN_PATH=");
}

const char* kHead = "[dataset]\nplugin = \"phantom-fundus\"\nimage_size = 16\ncount = 40\n[model]\nplugin = \"small-cnn\"\n";

}  // namespace

TEST(EdgeInputs, DataSetClassesAreTwoOrMoreAndUtf8) {
  const auto all = torch::arange(4);
  // The issue's input: an image folder with a single class folder was accepted.
  const std::string single = error_of([&] { medadv::host::model_spec_for(contents_with_classes({"only"}), all); });
  EXPECT_TRUE(contains(single, "a single class ('only'); a classifier needs at least two")) << single;
  // The issue's input: a class folder named in Latin-1 made results.jsonl invalid UTF-8.
  const std::string latin1 =
      error_of([&] { medadv::host::model_spec_for(contents_with_classes({"caf\xE9", "tea"}), all); });
  EXPECT_TRUE(contains(latin1, "class name 'caf\\xE9' is not valid UTF-8 (at byte 4)")) << latin1;
  // Overlong forms and surrogates are not UTF-8 either; real UTF-8 is.
  EXPECT_FALSE(error_of([&] { medadv::host::model_spec_for(contents_with_classes({"\xC0\xAF", "b"}), all); }).empty());
  EXPECT_FALSE(error_of([&] { medadv::host::model_spec_for(contents_with_classes({"\xED\xA0\x80", "b"}), all); }).empty());
  EXPECT_EQ(error_of([&] { medadv::host::model_spec_for(contents_with_classes({"caf\xC3\xA9", "\xF0\x9F\x98\x80"}), all); }),
            "");
}

TEST(EdgeInputs, CountBeyondMemoryIsRefusedBeforeAllocating) {
  // The issue's input: a huge count was not checked against memory up front. A phantom
  // draws its images when read, so the count itself is bounded by the schema...
  const fs::path dir = scratch_dir("count");
  auto r = validate(dir, "[dataset]\nplugin = \"phantom-fundus\"\nimage_size = 1024\ncount = 1000000000\n"
                         "[model]\nplugin = \"small-cnn\"\n", "--data");
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "key 'dataset.count' (plugin phantom-fundus): 1000000000 is out of range")) << r.err;
  // ... and a run whose attacked splits would not fit in memory is refused by the host's
  // estimate, before any image is drawn, naming the keys that lower it.
  r = validate(dir, "[dataset]\nplugin = \"phantom-fundus\"\nimage_size = 1024\ncount = 300000\n"
                    "[model]\nplugin = \"small-cnn\"\n", "--data");
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "the run would not fit in memory: estimated peak memory")) << r.err;
  EXPECT_TRUE(contains(r.err, "lower dataset.count or dataset.image_size")) << r.err;
}

TEST(EdgeInputs, TargetClassOutOfRangeIsFoundBeforeTraining) {
  // The issue's input: target = "7" on a two-class data set failed only after training.
  const medadv::Value root = medadv::host::parse_toml_text(
      std::string(kHead) + "[[attack]]\nplugin = \"pgd\"\ntargeted = true\ntarget = \"7\"\n", "target.toml");
  const auto checked = medadv::host::check_experiment(root, medadv::testing::built_in_plugins());
  const auto plan = medadv::host::make_plan(checked);
  const auto problems = medadv::testing::problems_before_training(plan, 16);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(contains(problems[0], "target.toml:7:1: attack[0]")) << problems[0];
  EXPECT_TRUE(contains(problems[0], "attack[0].target: class 7 does not exist: the data set has 2 classes")) << problems[0];
}

TEST(EdgeInputs, DirectoriesWhereFilesBelongAreInvalidInput) {
  const fs::path dir = scratch_dir("dirs");
  // The issue's input: a directory given as the experiment said "missing section [dataset]".
  fs::create_directories(dir / "exp-dir.toml");
  const auto experiment = run_medadv("validate " + (dir / "exp-dir.toml").string());
  EXPECT_EQ(experiment.status, 2) << experiment.all();
  EXPECT_TRUE(contains(experiment.err, "exp-dir.toml: is a directory, not an experiment file")) << experiment.err;
  // The issue's input: `report` exited 0 when results.jsonl was a directory.
  fs::create_directories(dir / "run" / "results.jsonl");
  const auto report = run_medadv("report " + (dir / "run").string());
  EXPECT_EQ(report.status, 2) << report.all();
  EXPECT_TRUE(contains(report.err, "results.jsonl: not a regular file")) << report.err;
}

TEST(EdgeInputs, HugeExampleColumnsMakeNoEndlessCaptions) {
  // The issue's input: examples.columns near 1e12 in results.jsonl ended in bad_alloc.
  const fs::path dir = scratch_dir("columns") / "exp" / "r1";
  fs::create_directories(dir / "images");
  medadv::write_png(dir / "images" / "grid.png", torch::rand({3, 24, 16}));
  std::ofstream(dir / "results.jsonl")
      << R"({"trial":"baseline__PGD__8_255__adv_test","hash":"a1","kind":"attack","variant":"baseline","attack":"PGD","epsilon":0.03,"epsilon_text":"8/255","split":"adv_test","robust_accuracy":0.1,"files":{"grid":"images/grid.png"},"examples":{"columns":1000000000000,"rows":["clean"],"labels":[1,0],"pred_clean":[1,0],"pred_adversarial":[0,0]}})"
         "\n";
  std::string html;
  ASSERT_NO_THROW(medadv::host::write_report(dir));
  html = slurp((dir / "report.html").string());
  EXPECT_TRUE(contains(html, "data:image/png;base64,")) << "the grid is still shown";
  EXPECT_FALSE(contains(html, "repeat(1000000000000")) << "no caption grid for columns the image cannot have";
}

TEST(EdgeInputs, NegativeCheckTimeoutBlamesTheOption) {
  // The issue's input: `plugins check --timeout -1` blamed the plugin.
  const auto r = run_medadv("plugins check " + fixture("good", "libfixture_good.so") + " --timeout -1");
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "--timeout -1: give the seconds the check may take")) << r.err;
  EXPECT_FALSE(contains(r.err, "rejected")) << r.err;
}

TEST(EdgeInputs, RunNameStaysInsideRuns) {
  // The issue's input: name = "../../x" wrote outside runs/.
  const fs::path dir = scratch_dir("name");
  for (const char* name : {"../../x", "a/b", "..", ""}) {
    const auto r = validate(dir, std::string("[experiment]\nname = \"") + name + "\"\n" + kHead);
    EXPECT_EQ(r.status, 2) << name << "\n" << r.all();
    EXPECT_TRUE(contains(r.err, "experiment.name")) << r.err;
    EXPECT_TRUE(contains(r.err, "is not a folder name")) << r.err;
  }
  EXPECT_EQ(validate(dir, std::string("[experiment]\nname = \"fundus-v2.1\"\n") + kHead).status, 0);
}
