// `medadv datasets preview`: the image grid it lays out, and the command as a user runs it.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "host/run_command.h"
#include "medadv/error.h"
#include "report/image_grid.h"

namespace {


struct PngHeader {
  bool signature = false;
  std::uint32_t width = 0, height = 0;
  int bit_depth = 0, colour_type = -1;  // colour type 0: gray, 2: RGB
};

// The signature and the IHDR chunk, read by hand (the PNG specification, section 11.2.2).
PngHeader read_png_header(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<unsigned char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  PngHeader h;
  if (b.size() < 26) return h;
  const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  h.signature = std::equal(signature, signature + 8, b.begin()) && std::string(b.begin() + 12, b.begin() + 16) == "IHDR";
  auto be32 = [&b](std::size_t i) {
    return (std::uint32_t{b[i]} << 24) | (std::uint32_t{b[i + 1]} << 16) | (std::uint32_t{b[i + 2]} << 8) | b[i + 3];
  };
  h.width = be32(16);
  h.height = be32(20);
  h.bit_depth = b[24];
  h.colour_type = b[25];
  return h;
}

std::string temp_png(const std::string& name) {
  const auto dir = std::filesystem::path(testing::TempDir()) / ("medadv_preview_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / name;
  std::filesystem::remove(file);
  return file.string();
}

// ---- The grid ------------------------------------------------------------------

TEST(ImageGrid, TilesRowByRowWithWhiteBorders) {
  // Three 1x2x2 images, values 0.1, 0.2, 0.3, two columns, border 1: a 7x7 picture,
  //   row 0 and 3 and 6 white, columns 0, 3 and 6 white, the last tile white.
  auto images = torch::stack({torch::full({1, 2, 2}, 0.1), torch::full({1, 2, 2}, 0.2), torch::full({1, 2, 2}, 0.3)});
  const auto grid = medadv::host::tile_grid(images, 2, 1);
  ASSERT_EQ(grid.sizes(), (std::vector<std::int64_t>{1, 7, 7}));
  const float expected[7][7] = {
      {1, 1, 1, 1, 1, 1, 1},       {1, .1f, .1f, 1, .2f, .2f, 1}, {1, .1f, .1f, 1, .2f, .2f, 1},
      {1, 1, 1, 1, 1, 1, 1},       {1, .3f, .3f, 1, 1, 1, 1},     {1, .3f, .3f, 1, 1, 1, 1},
      {1, 1, 1, 1, 1, 1, 1}};
  for (int r = 0; r < 7; ++r)
    for (int c = 0; c < 7; ++c) EXPECT_FLOAT_EQ(grid[0][r][c].item<float>(), expected[r][c]) << r << "," << c;
  // More columns than images: one row.
  EXPECT_EQ(medadv::host::tile_grid(images, 5, 2).sizes(), (std::vector<std::int64_t>{1, 1 * 4 + 2, 3 * 4 + 2}));
  EXPECT_THROW(medadv::host::tile_grid(images, 0, 1), medadv::InvalidInput);
}

TEST(ImageGrid, BorderIsThin) {
  EXPECT_EQ(medadv::host::grid_border(32, 32), 2);
  EXPECT_EQ(medadv::host::grid_border(160, 160), 3);
  EXPECT_EQ(medadv::host::grid_border(512, 256), 5);
}

TEST(ImageGrid, MasksTintedInsideAndOutlined) {
  // A gray 5x5 image of 0.5 with a 3x3 mask in the middle: its centre pixel is interior
  // (tinted by 30%), its 8 other pixels outline (solid colour), the rest untouched.
  auto image = torch::full({1, 1, 5, 5}, 0.5);
  auto mask = torch::zeros({1, 1, 5, 5});
  mask.slice(2, 1, 4).slice(3, 1, 4).fill_(1);
  const auto out = medadv::host::overlay_masks(image, mask, {1.0f, 0.0f, 0.0f}, 0.3);
  ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{1, 3, 5, 5}));
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 5; ++c) {
      const bool in = r >= 1 && r <= 3 && c >= 1 && c <= 3, centre = r == 2 && c == 2;
      const float red = centre ? 0.5f + 0.3f * 0.5f : in ? 1.0f : 0.5f;
      const float other = centre ? 0.5f - 0.3f * 0.5f : in ? 0.0f : 0.5f;
      EXPECT_NEAR(out[0][0][r][c].item<float>(), red, 1e-6) << r << "," << c;
      EXPECT_NEAR(out[0][1][r][c].item<float>(), other, 1e-6) << r << "," << c;
      EXPECT_NEAR(out[0][2][r][c].item<float>(), other, 1e-6) << r << "," << c;
    }
  }
}

// ---- The command ---------------------------------------------------------------

TEST(DatasetsPreview, WritesAGrayGridOfTheRequestedSize) {
  const auto file = temp_png("xray.png");
  const auto r = run_medadv("datasets preview phantom-xray --count 6 --columns 3 --set image_size=32 --output " + file);
  ASSERT_EQ(r.status, 0) << r.all();
  ASSERT_TRUE(std::filesystem::exists(file));
  const auto h = read_png_header(file);
  EXPECT_TRUE(h.signature);
  // Three 32-pixel tiles across, two down, 2-pixel borders around and between them.
  EXPECT_EQ(h.width, 3u * (32 + 2) + 2);
  EXPECT_EQ(h.height, 2u * (32 + 2) + 2);
  EXPECT_EQ(h.bit_depth, 8);
  EXPECT_EQ(h.colour_type, 0);
  EXPECT_TRUE(contains(r.out, "6 images of phantom-xray")) << r.out;
}

TEST(DatasetsPreview, MasksMakeAnRgbPictureAndSeedAndSetsMatter) {
  const auto a = temp_png("derm_a.png"), b = temp_png("derm_b.png"), c = temp_png("derm_c.png");
  const std::string common = "datasets preview phantom-derm --count 4 --set image_size=24 --set hair=0.0 --masks ";
  ASSERT_EQ(run_medadv(common + "--seed 1 --output " + a).status, 0);
  ASSERT_EQ(run_medadv(common + "--seed 1 --output " + b).status, 0);
  ASSERT_EQ(run_medadv(common + "--seed 2 --output " + c).status, 0);
  const auto h = read_png_header(a);
  EXPECT_TRUE(h.signature);
  EXPECT_EQ(h.colour_type, 2);
  EXPECT_EQ(h.width, 2u * (24 + 2) + 2);  // 4 images: 2 columns by default
  EXPECT_EQ(slurp(a), slurp(b));
  EXPECT_NE(slurp(a), slurp(c));
}

TEST(DatasetsPreview, RefusesUnknownDatasetsAndBadParameters) {
  const auto file = temp_png("bad.png");
  const auto unknown = run_medadv("datasets preview phantom-xrey --output " + file);
  EXPECT_EQ(unknown.status, 2) << unknown.all();
  EXPECT_TRUE(contains(unknown.err, "phantom-xray")) << unknown.err;  // the suggestion
  const auto param = run_medadv("datasets preview phantom-xray --set image_size=2 --output " + file);
  EXPECT_EQ(param.status, 2) << param.all();
  EXPECT_TRUE(contains(param.err, "image_size")) << param.err;
  EXPECT_EQ(run_medadv("datasets preview phantom-xray --count 0 --output " + file).status, 2);
  EXPECT_EQ(run_medadv("datasets preview phantom-xray --output " + temp_png("bad.jpg")).status, 2);
  EXPECT_FALSE(std::filesystem::exists(file));
  const auto help = run_medadv("datasets preview --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_TRUE(contains(help.out, "Usage: medadv datasets preview")) << help.out;
}

}  // namespace
