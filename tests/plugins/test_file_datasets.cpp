// Tests of the file-backed data sets (plugins/datasets/files): image-folder, medmnist,
// segmentation-folder. Every input is generated here in a temporary directory. Pixel
// values are checked against hand values (constant images, whose value survives any
// resize) and, for textured images, against the SDK's own reader and resize.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <unistd.h>

#include "support/test_support.h"
#include "datasets/files/image_folder.h"
#include "datasets/files/medmnist.h"
#include "datasets/files/segmentation_folder.h"
#include "medadv/error.h"
#include "medadv/image_io.h"
#include "medadv/npz.h"
#include "medadv/params.h"
#include "medadv/testing.h"

namespace {

namespace fs = std::filesystem;
using medadv::Value;

// A test context that keeps what plugins log, to check warnings and cache use.
class RecordingContext : public medadv::testing::TestContext {
 public:
  medadv::Logger& log() override { return recorder_; }
  // Messages logged since the last call.
  std::string take_log() {
    std::string all;
    for (const auto& m : recorder_.lines) all += m + "\n";
    recorder_.lines.clear();
    return all;
  }

 private:
  struct Recorder : medadv::Logger {
    std::vector<std::string> lines;
    void log(medadv::LogLevel, const std::string& message) override { lines.push_back(message); }
  } recorder_;
};

class FileDatasets : public ScratchTest {
 protected:

  // Writes an 8-bit (or 16-bit) PNG, creating its directory.
  fs::path png(const std::string& relative, const torch::Tensor& image, int bits = 8) {
    const auto path = dir_ / relative;
    fs::create_directories(path.parent_path());
    medadv::write_png(path, image, bits);
    return path;
  }
};

// A constant image: every pixel (r, g, b) in 8-bit levels.
torch::Tensor constant(std::int64_t r, std::int64_t g, std::int64_t b, std::int64_t h = 10, std::int64_t w = 12) {
  return torch::tensor({r, g, b}, torch::kFloat32).div(255.0).view({3, 1, 1}).expand({3, h, w}).contiguous();
}

torch::Tensor gray(std::int64_t level, std::int64_t h = 10, std::int64_t w = 12) {
  return torch::full({1, h, w}, static_cast<float>(level) / 255.0f);
}

template <class T>
medadv::Params file_params_of(Value::Table table) {
  medadv::ParamSchema s;
  T::schema(s);
  return s.resolve_or_throw(Value(std::move(table)), "test");
}

template <class T>
medadv::DatasetContents load(medadv::RunContext& ctx, Value::Table table) {
  T dataset(file_params_of<T>(std::move(table)), ctx);
  return medadv::testing::read_all(dataset.open(ctx));
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

// ---- image-folder --------------------------------------------------------------

TEST_F(FileDatasets, ClassFoldersGiveSortedClassesLabelsAndPixels) {
  png("data/malignant/m1.png", constant(255, 0, 0));
  png("data/benign/b2.png", gray(40, 20, 30));
  png("data/benign/b1.png", constant(51, 102, 153, 16, 16));
  // Ignored: other extensions, hidden files.
  std::ofstream(dir_ / "data/benign/notes.txt") << "not an image";
  png("data/benign/.hidden.png", gray(0));
  medadv::testing::TestContext ctx;

  auto rgb = load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "data").string()}, {"image_size", 8}});
  ASSERT_EQ(rgb.images.sizes(), (std::vector<std::int64_t>{3, 3, 8, 8}));
  EXPECT_EQ(rgb.meta.class_names, (std::vector<std::string>{"benign", "malignant"}));
  EXPECT_TRUE(torch::equal(rgb.labels, torch::tensor({0, 0, 1}, torch::kInt64)));
  EXPECT_TRUE(rgb.predefined_splits.empty());
  EXPECT_EQ(rgb.meta.task, medadv::Task::Classification);
  // Files in name order: b1 (colour), b2 (gray replicated), m1 (red).
  auto expected = torch::stack({constant(51, 102, 153, 8, 8), gray(40, 8, 8).expand({3, 8, 8}), constant(255, 0, 0, 8, 8)});
  EXPECT_TRUE(torch::allclose(rgb.images, expected, 0, 1e-6));

  auto one = load<medadv::plugins::files::ImageFolder>(
      ctx, {{"root", (dir_ / "data").string()}, {"image_size", 8}, {"channels", 1}, {"modality", "dermoscopy"}});
  ASSERT_EQ(one.images.sizes(), (std::vector<std::int64_t>{3, 1, 8, 8}));
  const float luma = 0.299f * 0.2f + 0.587f * 0.4f + 0.114f * 0.6f;  // of (51, 102, 153)
  EXPECT_NEAR(one.images[0].min().item<float>(), luma, 1e-6);
  EXPECT_NEAR(one.images[0].max().item<float>(), luma, 1e-6);
  EXPECT_NEAR(one.images[2].mean().item<float>(), 0.299f, 1e-6);
  EXPECT_EQ(one.meta.modality, "dermoscopy");
}

TEST_F(FileDatasets, TexturedAndSixteenBitImagesAreReadAndResized) {
  torch::manual_seed(1);
  const auto texture = torch::randint(0, 256, {3, 20, 14}, torch::kInt64).to(torch::kFloat32) / 255.0;
  const auto file = png("data/a/texture.png", texture);
  png("data/b/deep.png", torch::full({1, 9, 9}, 40000.0f / 65535.0f), 16);
  medadv::testing::TestContext ctx;
  auto d = load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "data").string()}, {"image_size", 16}});
  EXPECT_TRUE(torch::allclose(d.images[0], medadv::resize_image(texture, 16), 0, 1e-6));
  EXPECT_TRUE(torch::equal(d.images[0], medadv::resize_image(medadv::read_image(file, 3), 16)));
  // 16 bits survive: 40000/65535 is no 8-bit level.
  EXPECT_NEAR(d.images[1].mean().item<double>(), 40000.0 / 65535.0, 1e-6);
}

TEST_F(FileDatasets, SplitFoldersGivePredefinedSplits) {
  // The Kaggle chest X-ray layout; 'val' has no PNEUMONIA folder, which is fine.
  png("xray/train/NORMAL/n1.png", gray(10));
  png("xray/train/NORMAL/n2.png", gray(11));
  png("xray/train/PNEUMONIA/p1.png", gray(12));
  png("xray/val/NORMAL/n3.png", gray(13));
  png("xray/test/PNEUMONIA/p2.png", gray(14));
  png("xray/test/NORMAL/n4.png", gray(15));
  medadv::testing::TestContext ctx;
  auto d = load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "xray").string()}, {"channels", 1}, {"image_size", 8}});
  EXPECT_EQ(d.meta.class_names, (std::vector<std::string>{"NORMAL", "PNEUMONIA"}));
  // Order: train, val, test; within a split by class, then by name.
  auto levels = (d.images.mean({1, 2, 3}) * 255).round().to(torch::kInt64);
  EXPECT_TRUE(torch::equal(levels, torch::tensor({10, 11, 12, 13, 15, 14}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(d.labels, torch::tensor({0, 0, 1, 0, 0, 1}, torch::kInt64)));
  ASSERT_EQ(d.predefined_splits.size(), 3u);
  EXPECT_TRUE(torch::equal(d.predefined_splits["train"], torch::tensor({0, 1, 2}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(d.predefined_splits["val"], torch::tensor({3}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(d.predefined_splits["test"], torch::tensor({4, 5}, torch::kInt64)));
}

TEST_F(FileDatasets, BadLayoutsAreNamed) {
  medadv::testing::TestContext ctx;
  fs::create_directories(dir_ / "empty");
  auto message = invalid_input_of([&] { load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "empty").string()}}); });
  expect_contains(message, (dir_ / "empty").string());

  png("loose/a.png", gray(1));
  message = invalid_input_of([&] { load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "loose").string()}}); });
  expect_contains(message, "directly in it");

  png("mixed/train/x/a.png", gray(1));
  png("mixed/cats/b.png", gray(1));
  message = invalid_input_of([&] { load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "mixed").string()}}); });
  expect_contains(message, "train");
  expect_contains(message, "cats");

  png("notest/train/x/a.png", gray(1));
  message = invalid_input_of([&] { load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "notest").string()}}); });
  expect_contains(message, "'test'");

  fs::create_directories(dir_ / "noimages/a");
  std::ofstream(dir_ / "noimages/a/readme.txt") << "x";
  message = invalid_input_of([&] { load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "noimages").string()}}); });
  expect_contains(message, "no images");

  message = invalid_input_of([&] { load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "absent").string()}}); });
  expect_contains(message, "absent");

  message = invalid_input_of([&] { file_params_of<medadv::plugins::files::ImageFolder>({{"root", "x"}, {"image_size", 4}}); });
  expect_contains(message, "image_size");
  // Rules between values are the schema's too, so an experiment reports them with their location.
  message = invalid_input_of([&] { file_params_of<medadv::plugins::files::ImageFolder>({{"root", "x"}, {"channels", 2}}); });
  expect_contains(message, "key 'channels'");
  expect_contains(message, "must be 1 or 3, got 2");
  message = invalid_input_of([&] { file_params_of<medadv::plugins::files::ImageFolder>({{"root", "x"}, {"extensions", Value::Array{Value(".")}}}); });
  expect_contains(message, "key 'extensions'");
  message = invalid_input_of([&] { file_params_of<medadv::plugins::files::MedMnist>({{"path", "x"}, {"image_size", 4}}); });
  expect_contains(message, "0 (keep the stored size) or at least 8, got 4");
  message = invalid_input_of([&] { file_params_of<medadv::plugins::files::MedMnist>({{"path", "x"}, {"channels", 2}}); });
  expect_contains(message, "0 (as stored), 1 or 3");
}

TEST_F(FileDatasets, CorruptFilesFailByNameOrAreSkippedAndCounted) {
  png("data/a/good1.png", gray(100));
  png("data/a/good2.png", gray(110));
  png("data/b/good3.png", gray(120));
  const auto bad = dir_ / "data/b/bad.png";
  std::ofstream(bad, std::ios::binary) << "this is not a PNG at all";
  RecordingContext ctx;
  auto message = invalid_input_of([&] { load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "data").string()}}); });
  expect_contains(message, bad.string());
  expect_contains(message, "skip_bad");

  ctx.take_log();
  auto d = load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "data").string()}, {"skip_bad", true}, {"channels", 1}});
  auto log = ctx.take_log();
  expect_contains(log, "skipped 1 unreadable files of 4");
  expect_contains(log, bad.string());
  EXPECT_EQ(d.images.size(0), 3);
  EXPECT_TRUE(torch::equal(d.labels, torch::tensor({0, 0, 1}, torch::kInt64)));
  EXPECT_NEAR(d.images[2].mean().item<float>(), 120.0f / 255.0f, 1e-6);
  // From the cache the skipped file is reported again.
  load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "data").string()}, {"skip_bad", true}, {"channels", 1}});
  log = ctx.take_log();
  expect_contains(log, "read from cache");
  expect_contains(log, "skipped 1 unreadable files of 4");
}

TEST_F(FileDatasets, DecodedDataAreCachedUntilAFileChanges) {
  torch::manual_seed(2);
  png("data/a/x.png", torch::rand({3, 12, 12}));
  const auto changing = png("data/b/y.png", constant(10, 20, 30));
  RecordingContext ctx;
  const Value::Table table = {{"root", (dir_ / "data").string()}, {"image_size", 8}};

  auto first = load<medadv::plugins::files::ImageFolder>(ctx, table);
  EXPECT_EQ(ctx.take_log().find("read from cache"), std::string::npos);
  std::vector<fs::path> caches;
  for (const auto& e : fs::directory_iterator(ctx.cache_dir() / "datasets")) caches.push_back(e.path());
  ASSERT_EQ(caches.size(), 1u) << "the cache and no temporary file";
  EXPECT_TRUE(fs::is_regular_file(caches[0] / "images.f32")) << caches[0];

  auto second = load<medadv::plugins::files::ImageFolder>(ctx, table);
  expect_contains(ctx.take_log(), "read from cache");
  {
    // A second open reads the cache's rows as they are asked for: the host need keep no copy.
    medadv::plugins::files::ImageFolder folder(file_params_of<medadv::plugins::files::ImageFolder>(table), ctx);
    const auto source = folder.open(ctx);
    EXPECT_FALSE(source->expensive_reads());
    EXPECT_TRUE(torch::equal(source->read(torch::tensor({1, 0, 1})).images, first.images.index_select(0, torch::tensor({1, 0, 1}))));
    EXPECT_TRUE(torch::equal(medadv::testing::read_all(source).images, first.images));
    expect_contains(ctx.take_log(), "read from cache");
  }
  EXPECT_TRUE(torch::equal(first.images, second.images));
  EXPECT_TRUE(torch::equal(first.labels, second.labels));
  EXPECT_EQ(first.meta.class_names, second.meta.class_names);

  // Other parameters: another cache entry.
  load<medadv::plugins::files::ImageFolder>(ctx, {{"root", (dir_ / "data").string()}, {"image_size", 9}});
  EXPECT_EQ(ctx.take_log().find("read from cache"), std::string::npos);

  // A changed file (new content, later modification time) is decoded afresh.
  medadv::write_png(changing, constant(200, 100, 0));
  fs::last_write_time(changing, fs::last_write_time(changing) + std::chrono::seconds(5));
  auto third = load<medadv::plugins::files::ImageFolder>(ctx, table);
  EXPECT_EQ(ctx.take_log().find("read from cache"), std::string::npos);
  EXPECT_TRUE(torch::equal(third.images[0], first.images[0]));
  EXPECT_NEAR(third.images[1][0].mean().item<float>(), 200.0f / 255.0f, 1e-6);

  // A cache entry whose file is damaged (not the size of its array) is ignored with a
  // warning, and replaced.
  for (const auto& e : fs::directory_iterator(ctx.cache_dir() / "datasets")) std::ofstream(e.path() / "images.f32") << "garbage";
  auto fourth = load<medadv::plugins::files::ImageFolder>(ctx, table);
  expect_contains(ctx.take_log(), "unreadable cache");
  EXPECT_TRUE(torch::equal(fourth.images, third.images));
}

// ---- medmnist -------------------------------------------------------------------

std::vector<std::pair<std::string, torch::Tensor>> medmnist_arrays(bool rgb, std::int64_t side = 6) {
  std::vector<std::pair<std::string, torch::Tensor>> arrays;
  const std::vector<std::pair<std::string, std::int64_t>> splits = {{"train", 4}, {"val", 2}, {"test", 3}};
  std::int64_t start = 0;
  for (const auto& [split, n] : splits) {
    // Image i of the whole set is constant at level 10 * i (+1, +2 for G and B).
    auto level = (torch::arange(start, start + n, torch::kInt64) * 10).view({n, 1, 1});
    auto images = rgb ? torch::stack({level, level + 1, level + 2}, -1).expand({n, side, side, 3})
                      : level.expand({n, side, side});
    arrays.emplace_back(split + "_images", images.to(torch::kUInt8).contiguous());
    arrays.emplace_back(split + "_labels", (torch::arange(start, start + n) % 3).view({n, 1}).to(torch::kUInt8));
    start += n;
  }
  return arrays;
}

TEST_F(FileDatasets, MedmnistArchiveGivesImagesLabelsAndSplits) {
  medadv::write_npz(dir_ / "gray.npz", medmnist_arrays(false));
  medadv::testing::TestContext ctx;
  auto d = load<medadv::plugins::files::MedMnist>(ctx, {{"path", (dir_ / "gray.npz").string()}});
  ASSERT_EQ(d.images.sizes(), (std::vector<std::int64_t>{9, 1, 6, 6}));
  EXPECT_EQ(d.images.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(d.images.mean({1, 2, 3}), torch::arange(9, torch::kFloat32) * 10 / 255.0, 0, 1e-6));
  EXPECT_TRUE(torch::equal(d.labels, torch::arange(9, torch::kInt64) % 3));
  EXPECT_EQ(d.meta.class_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_TRUE(torch::equal(d.predefined_splits["train"], torch::arange(0, 4, torch::kInt64)));
  EXPECT_TRUE(torch::equal(d.predefined_splits["val"], torch::arange(4, 6, torch::kInt64)));
  EXPECT_TRUE(torch::equal(d.predefined_splits["test"], torch::arange(6, 9, torch::kInt64)));

  medadv::write_npz(dir_ / "rgb.npz", medmnist_arrays(true));
  RecordingContext rctx;
  const Value::Table table = {{"path", (dir_ / "rgb.npz").string()},
                              {"channels", 1},
                              {"image_size", 8},
                              {"class_names", Value::Array{Value("adipose"), Value("debris"), Value("mucus")}}};
  auto c = load<medadv::plugins::files::MedMnist>(rctx, table);
  ASSERT_EQ(c.images.sizes(), (std::vector<std::int64_t>{9, 1, 8, 8}));
  // Image 5: levels (50, 51, 52) -> luma by hand; constant images stay constant when resized.
  EXPECT_NEAR(c.images[5].mean().item<double>(), (0.299 * 50 + 0.587 * 51 + 0.114 * 52) / 255.0, 1e-5);
  EXPECT_NEAR((c.images[5].max() - c.images[5].min()).item<double>(), 0.0, 1e-6);
  EXPECT_EQ(c.meta.class_names, (std::vector<std::string>{"adipose", "debris", "mucus"}));
  EXPECT_EQ(rctx.take_log().find("read from cache"), std::string::npos);
  auto again = load<medadv::plugins::files::MedMnist>(rctx, table);
  expect_contains(rctx.take_log(), "read from cache");
  EXPECT_TRUE(torch::equal(again.images, c.images));

  // At the stored size the 8-bit pixels are cached as stored (a quarter of float's bytes),
  // streamed from the archive a block at a time, and a second open reads the cache.
  {
    medadv::ParamSchema schema;
    medadv::plugins::files::MedMnist::schema(schema);
    medadv::plugins::files::MedMnist gray(schema.resolve_or_throw(Value(Value::Table{{"path", (dir_ / "gray.npz").string()}}), "medmnist"), rctx);
    EXPECT_EQ(gray.open(rctx)->stored_dtype(), torch::kUInt8);
    rctx.take_log();
    EXPECT_EQ(gray.open(rctx)->stored_dtype(), torch::kUInt8);
    expect_contains(rctx.take_log(), "read from cache");
  }

  auto three = load<medadv::plugins::files::MedMnist>(ctx, {{"path", (dir_ / "gray.npz").string()}, {"channels", 3}});
  EXPECT_EQ(three.images.size(1), 3);
  EXPECT_TRUE(torch::equal(three.images[4][0], three.images[4][2]));
}

TEST_F(FileDatasets, MedmnistRefusesMultiLabelAndNamesMissingArrays) {
  medadv::testing::TestContext ctx;
  auto arrays = medmnist_arrays(false);
  arrays[1].second = torch::zeros({4, 14}, torch::kUInt8);  // chestmnist-like train_labels
  medadv::write_npz(dir_ / "chest.npz", arrays);
  auto message = invalid_input_of([&] { load<medadv::plugins::files::MedMnist>(ctx, {{"path", (dir_ / "chest.npz").string()}}); });
  expect_contains(message, "multi-label MedMNIST sets (e.g. chestmnist) are not supported yet");
  expect_contains(message, "train_labels");

  medadv::write_npz(dir_ / "keras.npz", {{"x_train", torch::zeros({2, 4, 4}, torch::kUInt8)},
                                         {"y_train", torch::zeros({2}, torch::kUInt8)}});
  message = invalid_input_of([&] { load<medadv::plugins::files::MedMnist>(ctx, {{"path", (dir_ / "keras.npz").string()}}); });
  expect_contains(message, "keras.npz");
  expect_contains(message, "train_images");
  expect_contains(message, "x_train");

  auto floats = medmnist_arrays(false);
  floats[0].second = floats[0].second.to(torch::kFloat32);
  medadv::write_npz(dir_ / "floats.npz", floats);
  message = invalid_input_of([&] { load<medadv::plugins::files::MedMnist>(ctx, {{"path", (dir_ / "floats.npz").string()}}); });
  expect_contains(message, "uint8");

  auto short_labels = medmnist_arrays(false);
  short_labels[5].second = torch::zeros({2, 1}, torch::kUInt8);  // test_labels for 3 images
  medadv::write_npz(dir_ / "short.npz", short_labels);
  message = invalid_input_of([&] { load<medadv::plugins::files::MedMnist>(ctx, {{"path", (dir_ / "short.npz").string()}}); });
  expect_contains(message, "test_labels");

  medadv::write_npz(dir_ / "good.npz", medmnist_arrays(false));
  message = invalid_input_of([&] {
    load<medadv::plugins::files::MedMnist>(ctx, {{"path", (dir_ / "good.npz").string()}, {"class_names", Value::Array{Value("a")}}});
  });
  expect_contains(message, "class_names");
}

// A corrupt label (4e9) would otherwise make billions of classes: refused, naming the file
// and the array, as is a label past the class_names given.
TEST_F(FileDatasets, MedmnistRefusesLabelsOutOfRangeNamingTheFileAndTheArray) {
  medadv::testing::TestContext ctx;
  auto arrays = medmnist_arrays(false);
  arrays[3].second = torch::tensor({std::int64_t{0}, std::int64_t{4000000000}}).view({2, 1});  // val_labels
  medadv::write_npz(dir_ / "corrupt.npz", arrays);
  auto message = invalid_input_of([&] { load<medadv::plugins::files::MedMnist>(ctx, {{"path", (dir_ / "corrupt.npz").string()}}); });
  expect_contains(message, "corrupt.npz");
  expect_contains(message, "'val_labels' holds label 4000000000");
  expect_contains(message, "9 labels");

  // The largest label the 9 labels allow without class_names is 8.
  arrays[3].second = torch::tensor({std::int64_t{0}, std::int64_t{8}}).view({2, 1});
  medadv::write_npz(dir_ / "sparse.npz", arrays);
  auto d = load<medadv::plugins::files::MedMnist>(ctx, {{"path", (dir_ / "sparse.npz").string()}});
  EXPECT_EQ(d.meta.class_names.size(), 9u);

  message = invalid_input_of([&] {
    load<medadv::plugins::files::MedMnist>(ctx, {{"path", (dir_ / "sparse.npz").string()},
                                        {"class_names", Value::Array{Value("a"), Value("b"), Value("c")}}});
  });
  expect_contains(message, "'val_labels' holds label 8");
  expect_contains(message, "'class_names' names 3 classes");
}

// ---- segmentation-folder ----------------------------------------------------------

TEST_F(FileDatasets, SegmentationPairsByStemWithBinaryMasks) {
  // Masks 16x16: left half foreground, in three encodings.
  auto left = torch::zeros({1, 16, 16});
  left.narrow(2, 0, 8).fill_(1.0);
  png("seg/images/a.png", constant(200, 10, 10, 16, 16));
  png("seg/images/b.png", constant(10, 200, 10, 16, 16));
  png("seg/images/c.png", constant(10, 10, 200, 16, 16));
  png("seg/masks/a.png", left);                            // 0 / 255
  png("seg/masks/b_mask.png", left / 255.0);               // 0 / 1: a label map
  png("seg/masks/c_mask.png", left * 0.6 + 0.3 * (1 - left));  // gray levels around the threshold
  png("seg/masks/orphan.png", left);                       // no image: ignored
  medadv::testing::TestContext ctx;
  auto d = load<medadv::plugins::files::SegmentationFolder>(
      ctx, {{"images", (dir_ / "seg/images").string()}, {"masks", (dir_ / "seg/masks").string()}, {"image_size", 8}});
  ASSERT_EQ(d.images.sizes(), (std::vector<std::int64_t>{3, 3, 8, 8}));
  ASSERT_EQ(d.masks.sizes(), (std::vector<std::int64_t>{3, 1, 8, 8}));
  EXPECT_EQ(d.meta.task, medadv::Task::Segmentation);
  EXPECT_EQ(d.meta.class_names, (std::vector<std::string>{"background", "foreground"}));
  auto expected = torch::zeros({1, 8, 8});
  expected.narrow(2, 0, 4).fill_(1.0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(torch::equal(d.masks[i], expected)) << i;
  EXPECT_NEAR(d.images[1][1].mean().item<float>(), 200.0f / 255.0f, 1e-6);

  // A higher threshold turns c's 0.6 foreground into background.
  auto strict = load<medadv::plugins::files::SegmentationFolder>(ctx, {{"images", (dir_ / "seg/images").string()},
                                                              {"masks", (dir_ / "seg/masks").string()},
                                                              {"image_size", 8},
                                                              {"mask_threshold", 0.7}});
  EXPECT_EQ(strict.masks[2].sum().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(strict.masks[0], expected));
}

TEST_F(FileDatasets, SegmentationMissingMaskIsNamedOrSkipped) {
  png("seg/images/a.png", gray(50, 8, 8));
  png("seg/images/lonely.png", gray(60, 8, 8));
  png("seg/masks/a_mask.png", gray(255, 8, 8));
  RecordingContext ctx;
  const Value::Table table = {{"images", (dir_ / "seg/images").string()}, {"masks", (dir_ / "seg/masks").string()}};
  auto message = invalid_input_of([&] { load<medadv::plugins::files::SegmentationFolder>(ctx, table); });
  expect_contains(message, "lonely.png");
  expect_contains(message, "no mask");

  auto skipping = table;
  skipping.emplace_back("skip_bad", true);
  ctx.take_log();
  auto d = load<medadv::plugins::files::SegmentationFolder>(ctx, skipping);
  EXPECT_EQ(d.images.size(0), 1);
  EXPECT_EQ(d.masks.sum().item<float>(), 64.0f * 64.0f);  // resized to the default 64, all foreground
  expect_contains(ctx.take_log(), "skipped 1 unreadable files of 2");

  // A mask of another size than its image is a pairing mistake.
  png("seg/masks/lonely.png", gray(255, 4, 4));
  message = invalid_input_of([&] { load<medadv::plugins::files::SegmentationFolder>(ctx, table); });
  expect_contains(message, "lonely.png");
  expect_contains(message, "4x4");
}

}  // namespace
