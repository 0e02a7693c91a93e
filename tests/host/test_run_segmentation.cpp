// `medadv run` on a segmentation experiment end to end (phantom-xray lung fields, a small
// U-Net): soft-Dice PGD untargeted and towards a target mask given as a PNG next to the
// experiment, and the feature stress test with no base loss; the records carry the Dice,
// mIoU and stress figures, the npz export carries masks. Then the refusals a task check
// makes before any training.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "host/run_command.h"
#include "medadv/image_io.h"
#include "medadv/npz.h"

namespace fs = std::filesystem;

namespace {

const char* kSegmentation = R"(
[experiment]
name = "seg"
seed = 1
device = "cpu"
threads = 1
batch_size = 32

[dataset]
plugin = "phantom-xray"
task = "segmentation"
image_size = 32
count = 120

[model]
plugin = "unet"
base_width = 8
[model.train]
epochs = 3
batch_size = 16

[[attack]]
label = "PGD-Dice"
plugin = "pgd"
loss = "dice"
epsilon = "8/255"
step = "2/255"
steps = 5

[[attack]]
label = "PGD-square"
plugin = "pgd"
loss = "dice"
targeted = true
target = "masks/square.png"
epsilon = "8/255"
step = "2/255"
steps = 5

[[attack]]
label = "Stress"
plugin = "pgd"
random_start = false
loss = "none"
epsilon = "4/256"
step = "0.5/256"
steps = 5
add = [{ plugin = "feature-stress", tap = "bottleneck", direction = "down" }]

[report]
export = ["npz"]
examples = 4
)";

struct TempDir {
  fs::path root;
  explicit TempDir(const std::string& name) {
    root = fs::path(testing::TempDir()) / ("medadv_seg_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "masks");
  }
  std::string env() const { return "MEDADV_CACHE=" + (root / "cache").string(); }
  fs::path write(const std::string& file, const std::string& text) const {
    std::ofstream(root / file) << text;
    return root / file;
  }
};

std::string line_of(const std::vector<std::string>& lines, const std::string& trial) {
  for (const auto& line : lines)
    if (line.find("\"trial\":\"" + trial + "\"") != std::string::npos) return line;
  return "";
}

}  // namespace

TEST(RunSegmentation, DiceAttacksAndTheStressTestEndToEnd) {
  TempDir t("run");
  // A 16 x 16 target mask (a centred square), resized to the 32 px images by the engine.
  auto square = torch::zeros({1, 16, 16});
  square.slice(1, 4, 12).slice(2, 4, 12).fill_(1.0);
  medadv::write_png(t.root / "masks" / "square.png", square);
  const fs::path toml = t.write("seg.toml", kSegmentation);
  const fs::path out = t.root / "run";
  // Run from another directory: the mask path is relative to the experiment file.
  auto r = run_medadv("run " + toml.string() + " --output " + out.string(), "cd / && " + t.env());
  ASSERT_EQ(r.status, 0) << r.all();

  const auto lines = lines_of(out / "results.jsonl");
  ASSERT_EQ(lines.size(), 8u) << "2 clean + 3 attacks x 2 splits";
  const std::string clean = line_of(lines, "baseline__clean__adv_test");
  ASSERT_FALSE(clean.empty());
  const double clean_dice = std::stod(field(clean, "clean_dice"));
  EXPECT_GT(clean_dice, 0.5) << "the U-Net learned the lung fields";

  const std::string pgd = line_of(lines, "baseline__PGD-Dice__8_255__adv_test");
  ASSERT_FALSE(pgd.empty()) << lines[2];
  for (const char* key : {"clean_dice", "adversarial_dice", "clean_miou", "adversarial_miou", "attack_success_rate",
                          "clean_foreground", "adversarial_foreground", "linf", "l2"})
    EXPECT_FALSE(field(pgd, key).empty()) << key << " in " << pgd;
  EXPECT_EQ(field(pgd, "robust_accuracy"), "") << "no classification metrics on a segmentation trial";
  EXPECT_NEAR(std::stod(field(pgd, "clean_dice")), clean_dice, 1e-9) << "the same clean predictions";
  EXPECT_LT(std::stod(field(pgd, "adversarial_dice")), clean_dice);
  EXPECT_LE(std::stod(field(pgd, "linf")), 8.0 / 255 + 1e-6);

  const std::string targeted = line_of(lines, "baseline__PGD-square__8_255__adv_test");
  ASSERT_FALSE(targeted.empty());
  EXPECT_EQ(field(targeted, "targeted"), "true");
  EXPECT_FALSE(field(targeted, "target_dice").empty()) << targeted;

  const std::string stress = line_of(lines, "baseline__Stress__4_256__adv_test");
  ASSERT_FALSE(stress.empty());
  const double before = std::stod(field(stress, "stress.bottleneck.clean_mean"));
  const double after = std::stod(field(stress, "stress.bottleneck.adversarial_mean"));
  EXPECT_LT(after, before) << "pushed down";
  EXPECT_NEAR(std::stod(field(stress, "stress.bottleneck.relative_change")), (after - before) / before, 1e-6);

  // The npz export of a segmentation trial: masks, label maps and the target masks.
  const auto arrays = medadv::read_npz(out / "adversarial" / "baseline__PGD-square__8_255__adv_test.npz");
  for (const char* name : {"clean", "adversarial", "masks", "pred_clean", "pred_adversarial", "targets"})
    EXPECT_TRUE(arrays.count(name)) << name;
  EXPECT_EQ(arrays.count("labels"), 0u);
  const auto& masks = arrays.at("masks");
  EXPECT_EQ(masks.dim(), 4);
  EXPECT_EQ(arrays.at("pred_adversarial").sizes(), masks.sizes());
  const auto& target = arrays.at("targets");
  EXPECT_EQ(target.sizes(), masks.sizes());
  EXPECT_NEAR(target[0].mean().item<double>(), 0.25, 0.02) << "the 8x8 of 16x16 square, resized to 32 px";
  // The tables and the CSV pick the metrics up by name.
  EXPECT_NE(slurp((out / "tables.md").string()).find("adversarial_dice"), std::string::npos);
  EXPECT_NE(slurp((out / "results.csv").string()).find("stress.bottleneck.relative_change"), std::string::npos);
}

TEST(RunSegmentation, RefusesLossesTargetsAndTapsThatDoNotFitBeforeTraining) {
  TempDir t("refuse");
  const std::string head = R"(
[experiment]
name = "seg-refused"
device = "cpu"
threads = 1
[dataset]
plugin = "phantom-xray"
image_size = 32
count = 40
task = "TASK"
[model]
plugin = "MODEL"
[model.train]
epochs = 1
)";
  auto experiment = [&](const std::string& task, const std::string& model, const std::string& attacks) {
    std::string text = head;
    text.replace(text.find("TASK"), 4, task);
    text.replace(text.find("MODEL"), 5, model);
    return t.write(task + ".toml", text + attacks);
  };
  auto refused = [&](const fs::path& toml) {
    return run_medadv("run " + toml.string() + " --output " + (t.root / toml.stem()).string(), t.env());
  };

  // Segmentation: a classification loss, a classification target, no base loss and no
  // terms, a tap the U-Net lacks, a soft Dice towards the empty mask (constant).
  const auto segmentation = experiment("segmentation", "unet", R"(
[[attack]]
plugin = "pgd"
label = "a1"
[[attack]]
plugin = "pgd"
label = "a2"
loss = "dice"
targeted = true
[[attack]]
plugin = "pgd"
label = "a3"
loss = "none"
[[attack]]
plugin = "pgd"
label = "a4"
loss = "none"
add = [{ plugin = "feature-stress", tap = "penultimate" }]
[[attack]]
plugin = "pgd"
label = "a5"
loss = "dice"
targeted = true
target = "empty"
)");
  auto r = refused(segmentation);
  EXPECT_EQ(r.status, 2) << r.all();
  for (const char* expected :
       {"attack[0].loss: loss = \"ce\" is a classification loss", "attack[1].target: \"random\" is a classification target",
        "attack[2].loss: loss = \"none\" leaves nothing to optimise", "attack[3].add[0]", "no tap 'penultimate'",
        "attack[4].loss: loss = \"dice\" towards an empty target mask is constant"})
    EXPECT_NE(r.all().find(expected), std::string::npos) << expected << "\n" << r.all();

  // Classification: segmentation losses and targets are refused.
  const auto classification = experiment("classification", "small-cnn", R"(
[[attack]]
plugin = "pgd"
label = "a6"
loss = "iou"
[[attack]]
plugin = "sma"
targeted = true
target = "empty"
)");
  r = refused(classification);
  EXPECT_EQ(r.status, 2) << r.all();
  for (const char* expected : {"attack[0].loss: loss = \"iou\" is a segmentation loss",
                               "attack[1].target: \"empty\" is a segmentation target"})
    EXPECT_NE(r.all().find(expected), std::string::npos) << expected << "\n" << r.all();
  EXPECT_FALSE(fs::exists(t.root / "cache" / "models")) << "nothing trained";
}
