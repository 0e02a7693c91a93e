// `medadv train` end to end: trains once and caches the weights, reuses them the second
// time, retrains for other options or --force, loads a checkpoint, and refuses bad input
// with exit status 2 and a location.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "host/run_command.h"
#include "medadv/training.h"

namespace fs = std::filesystem;

namespace {

class TrainCommand : public ScratchTest {
 protected:

  // A tiny experiment: 80 phantom fundus images of 16 px, a 4-wide small-cnn, 2 epochs, one thread.
  std::string write_experiment(const std::string& name, const std::string& model_extra = "",
                               const std::string& train_extra = "") {
    const fs::path file = dir_ / name;
    std::ofstream(file) << "[experiment]\n"
                           "name = \"train-test\"\n"
                           "seed = 1\n"
                           "device = \"cpu\"\n"
                           "threads = 1\n"
                           "[dataset]\n"
                           "plugin = \"phantom-fundus\"\n"
                           "image_size = 16\n"
                           "count = 80\n"
                           "[model]\n"
                           "plugin = \"small-cnn\"\n"
                           "width = 4\n"
                        << model_extra
                        << "[model.train]\n"
                           "epochs = 2\n"
                           "batch_size = 16\n"
                        << train_extra;
    return file.string();
  }

  CommandResult train(const std::string& args) {
    return run_medadv("train " + args,
                      "MEDADV_CACHE=" + cache().string() + " MEDADV_PLUGIN_PATH= XDG_DATA_HOME=" + (dir_ / "xdg").string());
  }

  fs::path cache() const { return dir_ / "cache"; }

  std::vector<fs::path> cached_weights() const {
    std::vector<fs::path> files;
    if (fs::exists(cache() / "models"))
      for (const auto& e : fs::directory_iterator(cache() / "models"))
        if (e.path().extension() == ".pt") files.push_back(e.path());
    return files;
  }

  static std::string line_starting(const std::string& text, const std::string& prefix) {
    const auto at = text.find("\n" + prefix);
    const auto begin = text.rfind(prefix, 0) == 0 ? 0 : at == std::string::npos ? std::string::npos : at + 1;
    if (begin == std::string::npos) return "";
    return text.substr(begin, text.find('\n', begin) - begin);
  }

};

}  // namespace

TEST_F(TrainCommand, TrainsOnceThenReusesTheCachedWeights) {
  const auto exp = write_experiment("exp.toml");
  const auto first = train(exp);
  ASSERT_EQ(first.status, 0) << first.all();
  EXPECT_NE(first.all().find("epoch 1/2"), std::string::npos) << first.all();
  EXPECT_NE(first.out.find("model: small-cnn (trained)"), std::string::npos) << first.out;
  const auto test_line = line_starting(first.out, "test: accuracy ");
  ASSERT_FALSE(test_line.empty()) << first.out;
  const auto weights = cached_weights();
  ASSERT_EQ(weights.size(), 1u);
  EXPECT_TRUE(fs::exists(fs::path(weights[0]).replace_extension(".json")));
  const auto written = fs::last_write_time(weights[0]);

  const auto second = train(exp);
  ASSERT_EQ(second.status, 0) << second.all();
  EXPECT_NE(second.all().find("cached weights found: " + weights[0].lexically_normal().string()), std::string::npos)
      << second.all();
  EXPECT_EQ(second.all().find("epoch 1/2"), std::string::npos) << "trained again:\n" << second.all();
  EXPECT_NE(second.out.find("model: small-cnn (cached)"), std::string::npos) << second.out;
  EXPECT_EQ(line_starting(second.out, "test: accuracy "), test_line) << "the same weights give the same metrics";
  EXPECT_EQ(line_starting(second.out, "val: "), line_starting(first.out, "val: ")) << "the report is read back";
  EXPECT_EQ(fs::last_write_time(weights[0]), written);
  EXPECT_EQ(cached_weights().size(), 1u);

  // Other train options are another model: a new cache entry.
  const auto longer = train(exp + " --set model.train.epochs=3");
  ASSERT_EQ(longer.status, 0) << longer.all();
  EXPECT_NE(longer.all().find("epoch 3/3"), std::string::npos) << longer.all();
  EXPECT_EQ(cached_weights().size(), 2u);
  // Spelling out a default changes nothing.
  const auto explicit_default = train(exp + " --set model.train.lr=" + medadv::Value(medadv::TrainOptions{}.lr).to_string());
  ASSERT_EQ(explicit_default.status, 0) << explicit_default.all();
  EXPECT_NE(explicit_default.out.find("(cached)"), std::string::npos) << explicit_default.all();

  // --force trains again and replaces the file.
  const auto forced = train(exp + " --force");
  ASSERT_EQ(forced.status, 0) << forced.all();
  EXPECT_NE(forced.all().find("epoch 1/2"), std::string::npos) << forced.all();
  EXPECT_NE(fs::last_write_time(weights[0]), written);
  EXPECT_EQ(line_starting(forced.out, "test: accuracy "), test_line) << "training is deterministic";
}

TEST_F(TrainCommand, LoadsACheckpointInsteadOfTraining) {
  const auto exp = write_experiment("exp.toml");
  const auto trained = train(exp);
  ASSERT_EQ(trained.status, 0) << trained.all();
  const auto weights = cached_weights();
  ASSERT_EQ(weights.size(), 1u);
  fs::create_directories(dir_ / "weights");
  fs::copy_file(weights[0], dir_ / "weights" / "mine.pt");
  fs::remove_all(cache());

  // Relative to the experiment file, not the working directory.
  const auto with_checkpoint = write_experiment("ckpt.toml", "checkpoint = \"weights/mine.pt\"\n");
  const auto loaded = train(with_checkpoint);
  ASSERT_EQ(loaded.status, 0) << loaded.all();
  EXPECT_NE(loaded.out.find("model: small-cnn (checkpoint)"), std::string::npos) << loaded.out;
  EXPECT_EQ(loaded.all().find("epoch 1/2"), std::string::npos) << loaded.all();
  EXPECT_EQ(line_starting(loaded.out, "test: accuracy "), line_starting(trained.out, "test: accuracy "));
  EXPECT_TRUE(cached_weights().empty());

  // A checkpoint of another architecture (width 8) does not fit: invalid input.
  const auto mismatch = train(with_checkpoint + " --set model.width=8");
  EXPECT_EQ(mismatch.status, 2) << mismatch.all();
  EXPECT_NE(mismatch.all().find("mine.pt"), std::string::npos) << mismatch.all();
  EXPECT_NE(mismatch.all().find("cannot be loaded"), std::string::npos) << mismatch.all();

  const auto missing = write_experiment("missing.toml", "checkpoint = \"nowhere.pt\"\n");
  const auto absent = train(missing);
  EXPECT_EQ(absent.status, 2) << absent.all();
  EXPECT_NE(absent.all().find("missing.toml:13:"), std::string::npos) << absent.all();
  EXPECT_NE(absent.all().find("no such file"), std::string::npos) << absent.all();
}

TEST_F(TrainCommand, BadTrainKeyExitsTwoNamingFileAndLine) {
  const auto exp = write_experiment("bad.toml", "", "epohcs = 3\n");
  const auto r = train(exp);
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_NE(r.all().find("bad.toml:16:"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("key 'model.train.epohcs'"), std::string::npos) << r.all();
  EXPECT_NE(r.all().find("did you mean 'epochs'"), std::string::npos) << r.all();
  EXPECT_TRUE(cached_weights().empty());

  const auto bad_split = train(write_experiment("split.toml") + " --set 'dataset.splits={ train = 0.9, val = 0.2 }'");
  EXPECT_EQ(bad_split.status, 2) << bad_split.all();
  EXPECT_NE(bad_split.all().find("dataset.splits"), std::string::npos) << bad_split.all();
}
