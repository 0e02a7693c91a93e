// The engine in-process, without the command line: a tiny experiment loaded, planned and
// run through run_experiment, resumed, and run with a user's own TorchScript model.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <torch/script.h>

#include "engine/run.h"
#include "experiment/loaded_experiment.h"
#include "experiment/plan.h"
#include "host/run_command.h"
#include "host/temp_workspace.h"
#include "medadv/error.h"

namespace fs = std::filesystem;
using namespace medadv::host;

namespace {

const char* const kExperiment = R"(
[experiment]
name = "engine"
seed = 2
device = "cpu"
threads = 1
batch_size = 32

[dataset]
plugin = "phantom-fundus"
image_size = 16
count = 96

[model]
plugin = "small-cnn"
width = 4
[model.train]
epochs = 1
batch_size = 32

[[attack]]
label = "FGSM"
plugin = "fgsm"
epsilon = "8/255"

[[detector]]
plugin = "kd"
)";

struct Workspace : TempWorkspace {
  explicit Workspace(const std::string& name) : TempWorkspace("engine_" + name) {}
};

TEST(Engine, RunsAnExperimentInProcessAndResumesIt) {
  Workspace w("run");
  const auto loaded = load_experiment(w.write("engine.toml", kExperiment), {}, {});
  const Plan plan = make_plan(loaded->checked);
  // 2 clean, FGSM on 2 splits, kd against FGSM.
  ASSERT_EQ(plan.trials.size(), 5u);

  RunOptions options;
  options.output = w.root / "run";
  const fs::path dir = run_experiment(*loaded, plan, options);
  EXPECT_EQ(dir, options.output);
  const auto lines = lines_of((dir / "results.jsonl").string());
  ASSERT_EQ(lines.size(), plan.trials.size());
  for (std::size_t i = 0; i < plan.trials.size(); ++i)
    EXPECT_NE(lines[i].find("\"trial\":\"" + plan.trials[i].id + "\""), std::string::npos)
        << "trial " << i << " is " << plan.trials[i].id << ", line is " << lines[i];
  EXPECT_NE(slurp((dir / "manifest.json").string()).find("\"finished\""), std::string::npos);

  // A resumed run with nothing left loads no data and appends nothing.
  options.resume = true;
  run_experiment(*loaded, plan, options);
  EXPECT_EQ(lines_of((dir / "results.jsonl").string()), lines);

  // A run killed after its attack trials resumes with the detector only.
  std::ofstream(dir / "results.jsonl", std::ios::trunc);
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) std::ofstream(dir / "results.jsonl", std::ios::app) << lines[i] << "\n";
  run_experiment(*loaded, plan, options);
  const auto resumed = lines_of((dir / "results.jsonl").string());
  ASSERT_EQ(resumed.size(), lines.size());
  EXPECT_NE(resumed.back().find("\"detector\":\"kd\""), std::string::npos) << resumed.back();
}

TEST(Engine, CheckAgainstDataRefusesAMissingTapBeforeTraining) {
  Workspace w("check");
  const auto loaded = load_experiment(w.write("engine.toml", std::string(kExperiment) + "layers = [\"block9\"]\n"),
                                      {}, {});
  const Plan plan = make_plan(loaded->checked);
  try {
    check_against_data(*loaded, plan);
    FAIL() << "a detector layer the model lacks was accepted";
  } catch (const medadv::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("block9"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(w.root / "cache" / "models")) << "nothing was trained";
}

// A user's TorchScript classifier (it normalises its own input), its weights drawn with
// `seed`, saved as `name` in the workspace.
fs::path write_scripted_classifier(const Workspace& w, const std::string& name, std::uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module net("Net");
  net.register_parameter("weight", (torch::randn({2, 3}) * 0.1).requires_grad_(true), false);
  net.register_parameter("bias", torch::zeros({2}).requires_grad_(true), false);
  net.define(R"(
def forward(self, x):
    return torch.matmul(x.mean([2, 3]) * 2.0 - 1.0, self.weight.t()) + self.bias
)");
  const fs::path file = w.root / name;
  net.save(file.string());
  return file;
}

// kExperiment with the TorchScript file as its model, without detectors, with or without
// its [model.train] table.
std::string torchscript_experiment(const fs::path& model_file, bool train) {
  std::string experiment = kExperiment;
  const std::string small_cnn = "plugin = \"small-cnn\"\nwidth = 4\n";
  experiment.replace(experiment.find(small_cnn), small_cnn.size(),
                     "plugin = \"torchscript\"\npath = \"" + model_file.string() + "\"\n");
  if (!train) {
    const std::string train_table = "[model.train]\nepochs = 1\nbatch_size = 32\n";
    experiment.erase(experiment.find(train_table), train_table.size());
  }
  return experiment.substr(0, experiment.find("[[detector]]"));
}

// The log of a run of `experiment` into `output`.
std::string run_log(const Workspace& w, const std::string& experiment, const std::string& output) {
  const auto loaded = load_experiment(w.write(output + ".toml", experiment), {}, {});
  const Plan plan = make_plan(loaded->checked);
  RunOptions options;
  options.output = w.root / output;
  const fs::path dir = run_experiment(*loaded, plan, options);
  EXPECT_EQ(lines_of((dir / "results.jsonl").string()).size(), plan.trials.size());
  return slurp((dir / "log.txt").string());
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

// The data set's mean and std reach the model plugin's build(), which logs through the
// context it was created with: that context must outlive the plugin's creation (it used to
// be destroyed first).
TEST(Engine, TorchScriptModelRunsWithTheContextItWasCreatedWith) {
  Workspace w("torchscript");
  const fs::path model_file = write_scripted_classifier(w, "net.pt", 1);
  const std::string log = run_log(w, torchscript_experiment(model_file, /*train=*/true), "run");
  EXPECT_TRUE(has(log, "the spec's mean/std are not applied")) << "the plugin logged from build() through its creation context";
}

// A user's trained model is attacked as the file holds it unless [model] train is given;
// what is trained from it is cached under the file's bytes, not only its name.
TEST(Engine, TorchScriptWeightsAreUsedAsBuiltUnlessTrainIsGiven) {
  Workspace w("torchscript_as_built");
  const fs::path model_file = write_scripted_classifier(w, "net.pt", 1);
  const std::string as_built = run_log(w, torchscript_experiment(model_file, /*train=*/false), "as_built");
  EXPECT_TRUE(has(as_built, "using the weights the model was built with")) << as_built;
  EXPECT_FALSE(has(as_built, "trained in")) << as_built;
  EXPECT_FALSE(fs::exists(w.root / "cache" / "models")) << "nothing was trained or cached";

  const std::string trained = run_log(w, torchscript_experiment(model_file, /*train=*/true), "trained");
  EXPECT_TRUE(has(trained, "trained in")) << trained;
  const std::string again = run_log(w, torchscript_experiment(model_file, /*train=*/true), "again");
  EXPECT_TRUE(has(again, "cached weights found")) << again;

  // Other weights under the same file name are another model: trained, not taken from the cache.
  write_scripted_classifier(w, "net.pt", 2);
  const std::string replaced = run_log(w, torchscript_experiment(model_file, /*train=*/true), "replaced");
  EXPECT_TRUE(has(replaced, "trained in")) << replaced;
  EXPECT_FALSE(has(replaced, "cached weights found")) << replaced;
}
