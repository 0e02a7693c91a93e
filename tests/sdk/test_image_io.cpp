// Tests of medadv/image_io.h. Inputs the reader must understand are written here with
// libpng and libjpeg directly, so the reader is checked against files it did not write.
#include <gtest/gtest.h>

#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <torch/torch.h>
#include <unistd.h>

#include "support/test_support.h"
#include "medadv/error.h"
#include "medadv/image_io.h"

namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class ImageIo : public ScratchTest {
 protected:
  fs::path file(const std::string& name) const { return dir_ / name; }
};

// A PNG written by libpng itself. `rows` holds the packed rows exactly as PNG stores
// them (16-bit samples most significant byte first, sub-byte samples packed).
struct PngSpec {
  std::uint32_t width = 0, height = 0;
  int color_type = PNG_COLOR_TYPE_GRAY;
  int bit_depth = 8;
  std::vector<std::vector<std::uint8_t>> rows;
  std::vector<png_color> palette;
};

void write_png_with_libpng(const fs::path& path, PngSpec& spec) {
  FILE* fp = std::fopen(path.c_str(), "wb");
  ASSERT_NE(fp, nullptr);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows;
  for (auto& r : spec.rows) rows.push_back(r.data());
  if (setjmp(png_jmpbuf(png)) == 0) {
    png_init_io(png, fp);
    png_set_IHDR(png, info, spec.width, spec.height, spec.bit_depth, spec.color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (!spec.palette.empty()) png_set_PLTE(png, info, spec.palette.data(), static_cast<int>(spec.palette.size()));
    png_write_info(png, info);
    png_write_image(png, rows.data());
    png_write_end(png, nullptr);
  } else {
    ADD_FAILURE() << "libpng failed to write the test image";
  }
  png_destroy_write_struct(&png, &info);
  std::fclose(fp);
}

// A JPEG written by libjpeg: samples interleaved [H][W][components].
void write_jpeg_with_libjpeg(const fs::path& path, int width, int height, int components, J_COLOR_SPACE space,
                             const std::vector<std::uint8_t>& samples, int quality) {
  FILE* fp = std::fopen(path.c_str(), "wb");
  ASSERT_NE(fp, nullptr);
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, fp);
  info.image_width = static_cast<JDIMENSION>(width);
  info.image_height = static_cast<JDIMENSION>(height);
  info.input_components = components;
  info.in_color_space = space;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    auto* row = const_cast<JSAMPLE*>(samples.data() + std::size_t{info.next_scanline} * static_cast<std::size_t>(width * components));
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::fclose(fp);
}

// Random 8-bit levels as a float image k/255.
torch::Tensor random_levels(std::int64_t c, std::int64_t h, std::int64_t w, std::uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, 256, {c, h, w}, torch::kInt64).to(torch::kFloat32) / 255.0;
}

TEST_F(ImageIo, EightBitRoundTripIsExact) {
  for (std::int64_t c : {1, 3}) {
    auto image = random_levels(c, 13, 17, static_cast<std::uint64_t>(c));
    auto bytes = medadv::encode_png(image);
    auto back = medadv::decode_image(bytes.data(), bytes.size());
    ASSERT_EQ(back.sizes(), image.sizes());
    EXPECT_EQ(back.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(back, image)) << "channels " << c;
  }
  // [H,W] is written as one channel.
  auto gray = random_levels(1, 5, 6, 9);
  auto bytes = medadv::encode_png(gray[0]);
  EXPECT_TRUE(torch::equal(medadv::decode_image(bytes.data(), bytes.size()), gray));
}

TEST_F(ImageIo, EncodeClampsAndRoundsToNearestLevel) {
  auto image = torch::tensor({-0.3, 0.0, 1.0 / 255 * 0.4, 1.0 / 255 * 0.6, 0.5, 1.0, 1.7}).view({1, 1, 7});
  auto bytes = medadv::encode_png(image);
  auto back = medadv::decode_image(bytes.data(), bytes.size()) * 255;
  // 0.5 * 255 = 127.5: either neighbour is a nearest level.
  auto levels = back.round().to(torch::kInt64).flatten();
  EXPECT_EQ(levels[0].item<int64_t>(), 0);
  EXPECT_EQ(levels[1].item<int64_t>(), 0);
  EXPECT_EQ(levels[2].item<int64_t>(), 0);
  EXPECT_EQ(levels[3].item<int64_t>(), 1);
  EXPECT_TRUE(levels[4].item<int64_t>() == 127 || levels[4].item<int64_t>() == 128);
  EXPECT_EQ(levels[5].item<int64_t>(), 255);
  EXPECT_EQ(levels[6].item<int64_t>(), 255);
}

TEST_F(ImageIo, SixteenBitPngFromLibpngDecodesToValueOver65535) {
  const std::vector<std::uint16_t> values = {0, 1, 255, 256, 12345, 40000, 65534, 65535};
  PngSpec gray;
  gray.width = 4;
  gray.height = 2;
  gray.bit_depth = 16;
  for (std::uint32_t y = 0; y < 2; ++y) {
    std::vector<std::uint8_t> row;
    for (std::uint32_t x = 0; x < 4; ++x) {
      const auto v = values[y * 4 + x];
      row.push_back(static_cast<std::uint8_t>(v >> 8));
      row.push_back(static_cast<std::uint8_t>(v & 0xff));
    }
    gray.rows.push_back(row);
  }
  write_png_with_libpng(file("gray16.png"), gray);
  auto image = medadv::read_image(file("gray16.png"));
  ASSERT_EQ(image.sizes(), (std::vector<std::int64_t>{1, 2, 4}));
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_FLOAT_EQ(image.flatten()[static_cast<std::int64_t>(i)].item<float>(), static_cast<float>(values[i] / 65535.0));
  }

  // RGB, 16 bits: channel order and byte order.
  PngSpec rgb;
  rgb.width = 1;
  rgb.height = 1;
  rgb.bit_depth = 16;
  rgb.color_type = PNG_COLOR_TYPE_RGB;
  rgb.rows = {{0x01, 0x02, 0x80, 0x00, 0xff, 0xfe}};
  write_png_with_libpng(file("rgb16.png"), rgb);
  auto colour = medadv::read_image(file("rgb16.png")).flatten();
  EXPECT_FLOAT_EQ(colour[0].item<float>(), static_cast<float>(0x0102 / 65535.0));
  EXPECT_FLOAT_EQ(colour[1].item<float>(), static_cast<float>(0x8000 / 65535.0));
  EXPECT_FLOAT_EQ(colour[2].item<float>(), static_cast<float>(0xfffe / 65535.0));
}

TEST_F(ImageIo, SixteenBitEncodeRoundTrips) {
  torch::manual_seed(3);
  auto image = torch::randint(0, 65536, {3, 4, 5}, torch::kInt64).to(torch::kFloat64) / 65535.0;
  auto bytes = medadv::encode_png(image.to(torch::kFloat32), 16);
  auto back = medadv::decode_image(bytes.data(), bytes.size());
  // float32 holds k/65535 to about 3e-8: the levels come back exactly.
  EXPECT_TRUE(torch::equal((back.to(torch::kFloat64) * 65535).round(), (image * 65535).round()));
}

TEST_F(ImageIo, PaletteAlphaAndLowBitDepthLayouts) {
  PngSpec palette;
  palette.width = 3;
  palette.height = 1;
  palette.color_type = PNG_COLOR_TYPE_PALETTE;
  palette.palette = {{10, 20, 30}, {255, 0, 128}, {0, 0, 0}};
  palette.rows = {{1, 0, 2}};
  write_png_with_libpng(file("palette.png"), palette);
  auto p = medadv::read_image(file("palette.png"));
  auto expected = torch::tensor({255, 10, 0, 0, 20, 0, 128, 30, 0}, torch::kFloat32).view({3, 1, 3}) / 255.0;
  EXPECT_TRUE(torch::allclose(p, expected, 0, 1e-7));

  PngSpec rgba;
  rgba.width = 2;
  rgba.height = 1;
  rgba.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  rgba.rows = {{50, 100, 150, 0, 200, 210, 220, 255}};
  write_png_with_libpng(file("rgba.png"), rgba);
  auto a = medadv::read_image(file("rgba.png"));  // alpha dropped, colour kept as stored
  EXPECT_TRUE(torch::allclose(a, torch::tensor({50, 200, 100, 210, 150, 220}, torch::kFloat32).view({3, 1, 2}) / 255.0, 0, 1e-7));

  PngSpec gray_alpha;
  gray_alpha.width = 2;
  gray_alpha.height = 1;
  gray_alpha.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
  gray_alpha.rows = {{7, 0, 250, 99}};
  write_png_with_libpng(file("ga.png"), gray_alpha);
  auto ga = medadv::read_image(file("ga.png"));
  EXPECT_TRUE(torch::allclose(ga, torch::tensor({7, 250}, torch::kFloat32).view({1, 1, 2}) / 255.0, 0, 1e-7));

  // 1-bit gray: bits 1,0,1,1 packed most significant first.
  PngSpec bits;
  bits.width = 4;
  bits.height = 1;
  bits.bit_depth = 1;
  bits.rows = {{0b10110000}};
  write_png_with_libpng(file("bits.png"), bits);
  auto b = medadv::read_image(file("bits.png"));
  EXPECT_TRUE(torch::equal(b, torch::tensor({1.f, 0.f, 1.f, 1.f}).view({1, 1, 4})));
}

TEST_F(ImageIo, ChannelConversionUsesBt601Luma) {
  // Pixels (R,G,B) in levels: pure red, pure green, pure blue, (51,102,153).
  auto rgb = torch::tensor({255, 0, 0, 51, 0, 255, 0, 102, 0, 0, 255, 153}, torch::kFloat32).view({3, 1, 4}) / 255.0;
  auto bytes = medadv::encode_png(rgb);
  auto gray = medadv::decode_image(bytes.data(), bytes.size(), 1);
  ASSERT_EQ(gray.sizes(), (std::vector<std::int64_t>{1, 1, 4}));
  const float by_hand[] = {0.299f, 0.587f, 0.114f, 0.299f * 0.2f + 0.587f * 0.4f + 0.114f * 0.6f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(gray.flatten()[i].item<float>(), by_hand[i], 1e-6);

  auto one = torch::tensor({0.0f, 0.2f, 1.0f}).view({1, 1, 3});
  bytes = medadv::encode_png(one);
  auto three = medadv::decode_image(bytes.data(), bytes.size(), 3);
  ASSERT_EQ(three.sizes(), (std::vector<std::int64_t>{3, 1, 3}));
  for (int c = 0; c < 3; ++c) EXPECT_TRUE(torch::equal(three[c], one[0]));
  // As stored, and asking for what is stored, change nothing.
  EXPECT_TRUE(torch::equal(medadv::decode_image(bytes.data(), bytes.size(), 1), one));
  EXPECT_EQ(medadv::decode_image(bytes.data(), bytes.size(), 0).size(0), 1);
  EXPECT_NE(invalid_input_of([&] { medadv::decode_image(bytes.data(), bytes.size(), 2); }).find("channels must be"),
            std::string::npos);
}

TEST_F(ImageIo, FormatIsChosenByContentNotName) {
  auto image = random_levels(3, 4, 4, 5);
  medadv::write_png(file("really_a_png.jpg"), image);
  EXPECT_TRUE(torch::equal(medadv::read_image(file("really_a_png.jpg")), image));
}

TEST_F(ImageIo, BrokenFilesAreInvalidInputNamingTheFile) {
  auto good = medadv::encode_png(random_levels(3, 16, 16, 1));
  write_bytes(file("truncated.png"), std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<long>(good.size() / 2)));
  auto message = invalid_input_of([&] { medadv::read_image(file("truncated.png")); });
  EXPECT_NE(message.find(file("truncated.png").string()), std::string::npos) << message;
  EXPECT_NE(message.find("PNG"), std::string::npos) << message;

  // Only the final IEND chunk missing: still an error, not a silently accepted image.
  write_bytes(file("no_end.png"), std::vector<std::uint8_t>(good.begin(), good.end() - 12));
  message = invalid_input_of([&] { medadv::read_image(file("no_end.png")); });
  EXPECT_NE(message.find("no_end.png"), std::string::npos) << message;

  // A corrupted byte inside the image data fails its checksum.
  auto corrupt = good;
  corrupt[good.size() / 2] ^= 0x5a;
  write_bytes(file("crc.png"), corrupt);
  message = invalid_input_of([&] { medadv::read_image(file("crc.png")); });
  EXPECT_NE(message.find("crc.png"), std::string::npos) << message;

  torch::manual_seed(11);
  auto noise = torch::randint(0, 256, {500}, torch::kInt64).to(torch::kUInt8);
  std::vector<std::uint8_t> random(noise.data_ptr<std::uint8_t>(), noise.data_ptr<std::uint8_t>() + 500);
  random[0] = 'x';  // not by chance a signature
  write_bytes(file("random.png"), random);
  message = invalid_input_of([&] { medadv::read_image(file("random.png")); });
  EXPECT_NE(message.find(file("random.png").string()), std::string::npos) << message;
  EXPECT_NE(message.find("only PNG and JPEG"), std::string::npos) << message;

  // Random bytes behind a PNG signature reach libpng and fail there.
  std::vector<std::uint8_t> fake = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  fake.insert(fake.end(), random.begin(), random.end());
  write_bytes(file("fake.png"), fake);
  message = invalid_input_of([&] { medadv::read_image(file("fake.png")); });
  EXPECT_NE(message.find("fake.png"), std::string::npos) << message;

  write_bytes(file("empty.png"), {});
  EXPECT_NE(invalid_input_of([&] { medadv::read_image(file("empty.png")); }).find("empty"), std::string::npos);
  message = invalid_input_of([&] { medadv::read_image(file("missing.png")); });
  EXPECT_NE(message.find("missing.png"), std::string::npos) << message;
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;
}

TEST_F(ImageIo, JpegRoundTripWithinTolerance) {
  // A smooth colour image compresses with small error at quality 95.
  const int W = 32, H = 24;
  auto ys = torch::linspace(0, 1, H).view({H, 1}).expand({H, W});
  auto xs = torch::linspace(0, 1, W).view({1, W}).expand({H, W});
  auto rgb = torch::stack({xs, ys, 0.5 * (xs + ys)}, 0);
  auto levels = (rgb * 255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  std::vector<std::uint8_t> samples(levels.data_ptr<std::uint8_t>(), levels.data_ptr<std::uint8_t>() + levels.numel());
  write_jpeg_with_libjpeg(file("colour.jpg"), W, H, 3, JCS_RGB, samples, 95);
  auto back = medadv::read_image(file("colour.jpg"));
  ASSERT_EQ(back.sizes(), rgb.sizes());
  EXPECT_LT((back - rgb).abs().mean().item<double>(), 0.01);
  EXPECT_LT((back - rgb).abs().max().item<double>(), 0.08);

  auto gray_levels = levels.select(2, 0).contiguous();
  std::vector<std::uint8_t> gray(gray_levels.data_ptr<std::uint8_t>(), gray_levels.data_ptr<std::uint8_t>() + gray_levels.numel());
  write_jpeg_with_libjpeg(file("gray.jpeg"), W, H, 1, JCS_GRAYSCALE, gray, 95);
  auto g = medadv::read_image(file("gray.jpeg"));
  ASSERT_EQ(g.size(0), 1);
  EXPECT_LT((g[0] - xs).abs().mean().item<double>(), 0.01);
  EXPECT_EQ(medadv::read_image(file("gray.jpeg"), 3).size(0), 3);
}

TEST_F(ImageIo, BrokenAndCmykJpegsAreRefused) {
  const int W = 16, H = 16;
  std::vector<std::uint8_t> cmyk(static_cast<std::size_t>(W * H * 4), 100);
  write_jpeg_with_libjpeg(file("cmyk.jpg"), W, H, 4, JCS_CMYK, cmyk, 90);
  auto message = invalid_input_of([&] { medadv::read_image(file("cmyk.jpg")); });
  EXPECT_NE(message.find("cmyk.jpg"), std::string::npos) << message;
  EXPECT_NE(message.find("CMYK"), std::string::npos) << message;

  torch::manual_seed(2);
  auto noise = torch::randint(0, 256, {H * W * 3}, torch::kInt64).to(torch::kUInt8);
  std::vector<std::uint8_t> samples(noise.data_ptr<std::uint8_t>(), noise.data_ptr<std::uint8_t>() + noise.numel());
  write_jpeg_with_libjpeg(file("whole.jpg"), W, H, 3, JCS_RGB, samples, 90);
  auto whole = read_bytes(file("whole.jpg"));
  write_bytes(file("truncated.jpg"), std::vector<std::uint8_t>(whole.begin(), whole.begin() + static_cast<long>(whole.size() * 2 / 3)));
  message = invalid_input_of([&] { medadv::read_image(file("truncated.jpg")); });
  EXPECT_NE(message.find("truncated.jpg"), std::string::npos) << message;
  EXPECT_NE(message.find("JPEG"), std::string::npos) << message;

  write_bytes(file("header_only.jpg"), std::vector<std::uint8_t>(whole.begin(), whole.begin() + 20));
  message = invalid_input_of([&] { medadv::read_image(file("header_only.jpg")); });
  EXPECT_NE(message.find("header_only.jpg"), std::string::npos) << message;
}

TEST_F(ImageIo, WritePngReplacesAtomicallyAndNamesTheFileOnFailure) {
  auto first = random_levels(1, 3, 3, 1), second = random_levels(3, 5, 4, 2);
  medadv::write_png(file("out.png"), first);
  medadv::write_png(file("out.png"), second);
  EXPECT_TRUE(torch::equal(medadv::read_image(file("out.png")), second));
  for (const auto& entry : fs::directory_iterator(file("out.png").parent_path()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  EXPECT_EQ(read_bytes(file("out.png")), medadv::encode_png(second));

  try {
    medadv::write_png(file("no_such_dir") / "x.png", first);
    FAIL() << "writing into a missing directory succeeded";
  } catch (const medadv::Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.png"), std::string::npos) << e.what();
  }
  EXPECT_NE(invalid_input_of([&] { medadv::encode_png(torch::zeros({2, 4, 4})); }).find("C = 1 or 3"), std::string::npos);
  EXPECT_NE(invalid_input_of([&] { medadv::encode_png(torch::full({1, 2, 2}, NAN)); }).find("NaN"), std::string::npos);
}

// Brute-force resampling along one axis, the oracle for resize_image: PIL's bilinear
// (triangle) filter widened by the scale when shrinking; plain bilinear with half-pixel
// centres when enlarging (which is the same filter unwidened).
torch::Tensor resample_axis(const torch::Tensor& x, std::int64_t out, int axis) {
  auto in = x.size(axis);
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double widen = std::max(scale, 1.0);
  std::vector<torch::Tensor> slices;
  for (std::int64_t i = 0; i < out; ++i) {
    const double centre = (static_cast<double>(i) + 0.5) * scale;
    auto acc = torch::zeros_like(x.select(axis, 0), torch::kFloat64);
    double total = 0;
    for (std::int64_t j = 0; j < in; ++j) {
      const double w = std::max(0.0, 1.0 - std::abs((static_cast<double>(j) + 0.5 - centre) / widen));
      if (w == 0) continue;
      acc += w * x.select(axis, j).to(torch::kFloat64);
      total += w;
    }
    slices.push_back(acc / total);
  }
  return torch::stack(slices, axis);
}

TEST_F(ImageIo, ResizeMatchesBruteForceFilters) {
  torch::manual_seed(4);
  // Shrink both axes, grow both, and shrink one while growing the other.
  for (auto [h, w, size] : std::vector<std::array<std::int64_t, 3>>{{17, 23, 6}, {3, 4, 9}, {12, 4, 7}}) {
    auto image = torch::rand({2, h, w});
    auto expected = resample_axis(resample_axis(image, size, 1), size, 2).to(torch::kFloat32);
    auto got = medadv::resize_image(image, size);
    ASSERT_EQ(got.sizes(), (std::vector<std::int64_t>{2, size, size}));
    EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5) << h << "x" << w << " -> " << size;
    // A batch gives the same per image.
    EXPECT_TRUE(torch::allclose(medadv::resize_image(image.unsqueeze(0), size)[0], got, 1e-6, 1e-6));
  }
  // Every input pixel contributes when shrinking: a single bright pixel keeps its mass.
  // (Plain bilinear would sample it with weight 1/4 instead of the area ratio 1/16.)
  auto impulse = torch::zeros({1, 32, 32});
  impulse[0][13][13] = 1;
  EXPECT_NEAR(medadv::resize_image(impulse, 8).sum().item<double>() * 16, 1.0, 1e-4);
  auto same = torch::rand({1, 5, 5});
  EXPECT_TRUE(torch::equal(medadv::resize_image(same, 5), same));
}

}  // namespace
