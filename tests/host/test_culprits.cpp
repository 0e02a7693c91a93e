// Bad input exits with status 2 and names its culprit (issue 24, class 5): a malformed
// --set index, an --output that is a file, a malformed ELF library, image files whose
// header asks for more memory than any image may take, images too small for SSIM, a model
// with nothing to train, and the checks of `validate --data` with their file:line:column.
#include <elf.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "engine/task_check.h"
#include "experiment/experiment_check.h"
#include "experiment/plan.h"
#include "experiment/toml_value.h"
#include "host/edge_input_support.h"
#include "host/run_command.h"
#include "loader/elf_symbols.h"
#include "loader/registry.h"
#include "medadv/error.h"
#include "medadv/image_io.h"
#include "medadv/testing.h"
#include "medadv/training.h"

namespace fs = std::filesystem;

namespace {

const char* kTinyHead = R"([experiment]
name = "culprits"
device = "cpu"
threads = 1
[dataset]
plugin = "phantom-fundus"
image_size = 16
count = 40
[model]
plugin = "small-cnn"
width = 4
)";

// kTinyHead with `attacks` (by default one FGSM), as dir/exp.toml.
fs::path tiny_experiment(const fs::path& dir, const std::string& attacks = "[[attack]]\nplugin = \"fgsm\"\n") {
  std::ofstream(dir / "exp.toml") << kTinyHead << attacks;
  return dir / "exp.toml";
}

std::string big_endian(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// A PNG chunk with its length and CRC (zlib's crc32, as libpng computes it).
std::string png_chunk(const std::string& type, const std::string& data) {
  const std::string body = type + data;
  const auto crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  return big_endian(static_cast<std::uint32_t>(data.size())) + body + big_endian(static_cast<std::uint32_t>(crc));
}

// A PNG whose header says width x height, 16-bit RGB, followed by a little image data:
// only the header matters, the reader must stop there.
std::string png_claiming(std::uint32_t width, std::uint32_t height) {
  const std::string ihdr = big_endian(width) + big_endian(height) + std::string{16, 2, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", std::string(64, '\0')) +
         png_chunk("IEND", "");
}

}  // namespace

TEST(Culprits, SetWithANonNumericIndexNamesTheKey) {
  // The issue's input: --set 'attack[x].epsilon=1' printed "error: stol" with exit 1.
  const fs::path dir = scratch_dir("set");
  const auto r = run_medadv("validate " + tiny_experiment(dir).string() + " --set 'attack[x].epsilon=1'");
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "--set attack[x].epsilon: 'x' in 'attack[x]' is not an index")) << r.err;
  const auto huge = run_medadv("validate " + tiny_experiment(dir).string() + " --set 'attack[99999999999999999999].epsilon=1'");
  EXPECT_EQ(huge.status, 2) << huge.all();
}

TEST(Culprits, OutputThatIsAFileIsInvalidInput) {
  // The issue's input: an --output that is a regular file exited 1.
  const fs::path dir = scratch_dir("output");
  std::ofstream(dir / "taken") << "a file\n";
  const auto r = run_medadv("run " + tiny_experiment(dir).string() + " --output " + (dir / "taken").string(),
                            "MEDADV_CACHE=" + (dir / "cache").string());
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, (dir / "taken").string() + ": exists and is not a directory")) << r.err;
}

TEST(Culprits, MalformedElfNamesTheLibrary) {
  // The issue's input: a library whose dynamic string table claims a huge size, which
  // failed with basic_string::_M_create or bad_alloc naming no library.
  const fs::path dir = scratch_dir("elf");
  const fs::path copy = dir / "libmalformed.so";
  fs::copy_file(fixture("good", "libfixture_good.so"), copy);
  std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
  Elf64_Ehdr header{};
  f.read(reinterpret_cast<char*>(&header), sizeof header);
  bool patched = false;
  for (int i = 0; i < header.e_shnum && !patched; ++i) {
    Elf64_Shdr section{};
    f.seekg(static_cast<std::streamoff>(header.e_shoff + i * sizeof(Elf64_Shdr)));
    f.read(reinterpret_cast<char*>(&section), sizeof section);
    if (section.sh_type != SHT_DYNSYM) continue;
    const auto strtab_at = static_cast<std::streamoff>(header.e_shoff + section.sh_link * sizeof(Elf64_Shdr));
    Elf64_Shdr strtab{};
    f.seekg(strtab_at);
    f.read(reinterpret_cast<char*>(&strtab), sizeof strtab);
    strtab.sh_size = std::uint64_t{1} << 40;
    f.seekp(strtab_at);
    f.write(reinterpret_cast<const char*>(&strtab), sizeof strtab);
    patched = true;
  }
  f.close();
  ASSERT_TRUE(patched);
  const std::string message = error_of([&] { medadv::host::exported_dynamic_symbols(copy); });
  EXPECT_TRUE(contains(message, copy.string() + ": malformed ELF file: its dynamic string table")) << message;
  const auto r = run_medadv("plugins check " + copy.string());
  EXPECT_EQ(r.status, 2) << r.all();
  EXPECT_TRUE(contains(r.err, copy.string())) << r.err;
  EXPECT_TRUE(contains(r.err, "malformed ELF file")) << r.err;
}

TEST(Culprits, ImageHeadersAreBoundedBeforeAllocation) {
  // The issue's input: a small 16-bit PNG whose header claims 16384 x 16384 peaked at 4.9 GB.
  const fs::path dir = scratch_dir("png");
  std::ofstream(dir / "huge.png", std::ios::binary) << png_claiming(16384, 16384);
  const std::string huge = error_of([&] { medadv::read_image(dir / "huge.png"); });
  EXPECT_TRUE(contains(huge, (dir / "huge.png").string())) << huge;
  EXPECT_TRUE(contains(huge, "image of 16384x16384 pixels exceeds the limit")) << huge;
  // Within the bound the header passes and the (bogus) data is what fails.
  std::ofstream(dir / "small.png", std::ios::binary) << png_claiming(64, 64);
  EXPECT_FALSE(contains(error_of([&] { medadv::read_image(dir / "small.png"); }), "exceeds the limit"));

  // The issue's input: a 20 GB file named .png was read whole before its signature was
  // checked. Sparse files: nothing is written to disk.
  const fs::path sparse = dir / "sparse.png";
  { std::ofstream(sparse) << "not an image"; }
  fs::resize_file(sparse, std::uintmax_t{20} << 30);
  const std::string unsigned_message = error_of([&] { medadv::read_image(sparse); });
  EXPECT_TRUE(contains(unsigned_message, "unrecognised format")) << unsigned_message;
  const fs::path signed_sparse = dir / "signed.png";
  std::ofstream(signed_sparse, std::ios::binary) << png_claiming(64, 64);
  fs::resize_file(signed_sparse, std::uintmax_t{20} << 30);
  const std::string signed_message = error_of([&] { medadv::read_image(signed_sparse); });
  EXPECT_TRUE(contains(signed_message, "more than the 1024 MiB an image file may have")) << signed_message;
}

TEST(Culprits, ValidateDataProblemsNameTheFileLineAndKey) {
  // The issue's inputs: image_size 8-10 validated, then every attack trial failed in SSIM
  // after training naming no key; `validate --data` named no file and no line.
  const fs::path dir = scratch_dir("data");
  const fs::path file = tiny_experiment(dir);
  const medadv::Value root = medadv::host::load_toml_file(file);
  const auto checked = medadv::host::check_experiment(root, medadv::testing::built_in_plugins());
  const auto plan = medadv::host::make_plan(checked);
  const auto problems = medadv::testing::problems_before_training(plan, 10);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(contains(problems[0], file.string() + ":5:1: dataset (")) << problems[0];
  EXPECT_TRUE(contains(problems[0], "at least 11 x 11")) << problems[0];
  EXPECT_TRUE(contains(problems[0], "raise dataset.image_size")) << problems[0];
  EXPECT_TRUE(medadv::testing::problems_before_training(plan, 11).empty());
}

TEST(Culprits, AModelWithNothingToTrainIsInvalidInput) {
  // The issue's input: a TorchScript model with frozen parameters failed inside training
  // naming neither the model nor its file.
  medadv::testing::TestContext ctx;
  auto model = std::make_shared<medadv::testing::TinyClassifier>(1, 2);
  for (auto& p : model->parameters()) p.requires_grad_(false);
  medadv::TrainingSet set;
  set.train = medadv::testing::sample_set(torch::rand({8, 1, 16, 16}), torch::tensor({0, 1, 0, 1, 0, 1, 0, 1}, torch::kLong));
  set.spec.channels = 1;
  set.spec.num_classes = 2;
  set.spec.image_size = 16;
  const std::string message = error_of([&] { medadv::train_model(*model, set, medadv::TrainOptions{}, ctx); });
  EXPECT_TRUE(contains(message, "no trainable parameter (every one has requires_grad = false)")) << message;
}

TEST(Culprits, AnAttackReturningNanIsNamed) {
  // The issue's input: an attack returning NaN failed later naming no plugin.
  const fs::path dir = scratch_dir("nan");
  const fs::path file = tiny_experiment(dir, "[model.train]\nepochs = 1\n[[attack]]\nplugin = \"fixture-noise\"\nbroken = true\n");
  const auto r = run_medadv("run " + file.string() + " --plugin-path " + fixture("good", "") +
                                " --output " + (dir / "run").string(),
                            "MEDADV_CACHE=" + (dir / "cache").string());
  EXPECT_EQ(r.status, 1) << r.all();
  EXPECT_TRUE(contains(r.err, "fixture-noise")) << r.err;
  EXPECT_TRUE(contains(r.err, "(attack[0]) returned adversarial images holding NaN or infinite values")) << r.err;
}
