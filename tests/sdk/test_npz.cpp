// Tests of medadv/npz.h. Besides round trips through write_npz, archives are built here
// by hand (zlib deflate, zip headers written byte by byte) the way numpy's
// savez_compressed lays them out, so the reader is checked against files it did not write.
#include <gtest/gtest.h>

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <unistd.h>

#include "support/test_support.h"
#include "medadv/error.h"
#include "medadv/npz.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

class Npz : public ScratchTest {
 protected:
  fs::path file(const std::string& name) const { return dir_ / name; }
};

void put(Bytes& b, std::uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) b.push_back(static_cast<std::uint8_t>((v >> (8 * k)) & 0xff));
}

// An .npy file: `version` 1 (2-byte header length) or 2 (4-byte), header as numpy writes it.
Bytes npy(const std::string& descr, const std::string& shape, bool fortran, const Bytes& data, int version = 1) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  const std::size_t fixed = version == 1 ? 10 : 12;
  while ((fixed + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(version), 0};
  put(b, dict.size(), version == 1 ? 2 : 4);
  b.insert(b.end(), dict.begin(), dict.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes raw_deflate(const Bytes& in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&z, in.size()) + 16);
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A zip written by hand: per entry deflated or stored, with its sizes in 32-bit fields or
// (zip64) as 0xffffffff markers plus a zip64 extra field in the central directory. The
// central directory can declare another uncompressed size than the data's (a corrupt or
// malicious archive). With zip64_end, the end record points to a zip64 end record, as in
// archives over 4 GiB or 65535 entries.
struct HandEntry {
  std::string name;
  Bytes data;
  bool deflate = true;
  bool zip64 = false;
  std::uint64_t declared_size = 0;  // 0: the data's size
};

Bytes hand_zip(const std::vector<HandEntry>& entries, bool zip64_end = false) {
  Bytes out, directory;
  for (const auto& e : entries) {
    const Bytes payload = e.deflate ? raw_deflate(e.data) : e.data;
    const auto crc = crc32(0L, e.data.data(), static_cast<uInt>(e.data.size()));
    const std::uint64_t offset = out.size();
    put(out, 0x04034b50, 4);
    put(out, 20, 2);
    put(out, 0, 2);
    put(out, e.deflate ? 8 : 0, 2);
    put(out, 0, 4);  // time, date
    put(out, crc, 4);
    put(out, payload.size(), 4);
    put(out, e.data.size(), 4);
    put(out, e.name.size(), 2);
    put(out, 0, 2);
    out.insert(out.end(), e.name.begin(), e.name.end());
    out.insert(out.end(), payload.begin(), payload.end());

    put(directory, 0x02014b50, 4);
    put(directory, 20, 2);
    put(directory, 20, 2);
    put(directory, 0, 2);
    put(directory, e.deflate ? 8 : 0, 2);
    put(directory, 0, 4);
    put(directory, crc, 4);
    const std::uint64_t size = e.declared_size ? e.declared_size : e.data.size();
    put(directory, e.zip64 ? 0xffffffff : payload.size(), 4);
    put(directory, e.zip64 ? 0xffffffff : size, 4);
    put(directory, e.name.size(), 2);
    put(directory, e.zip64 ? 28 : 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 4);
    put(directory, e.zip64 ? 0xffffffff : offset, 4);
    directory.insert(directory.end(), e.name.begin(), e.name.end());
    if (e.zip64) {  // order fixed by the zip spec: uncompressed, compressed, offset
      put(directory, 1, 2);
      put(directory, 24, 2);
      put(directory, size, 8);
      put(directory, payload.size(), 8);
      put(directory, offset, 8);
    }
  }
  const std::uint64_t directory_offset = out.size();
  out.insert(out.end(), directory.begin(), directory.end());
  if (zip64_end) {
    const std::uint64_t record_offset = out.size();
    put(out, 0x06064b50, 4);
    put(out, 44, 8);  // the size of the rest of the record
    put(out, 45, 2);
    put(out, 45, 2);
    put(out, 0, 4);
    put(out, 0, 4);
    put(out, entries.size(), 8);
    put(out, entries.size(), 8);
    put(out, directory.size(), 8);
    put(out, directory_offset, 8);
    put(out, 0x07064b50, 4);  // the locator
    put(out, 0, 4);
    put(out, record_offset, 8);
    put(out, 1, 4);
  }
  put(out, 0x06054b50, 4);
  put(out, 0, 4);
  put(out, zip64_end ? 0xffff : entries.size(), 2);
  put(out, zip64_end ? 0xffff : entries.size(), 2);
  put(out, zip64_end ? 0xffffffff : directory.size(), 4);
  put(out, zip64_end ? 0xffffffff : directory_offset, 4);
  put(out, 0, 2);
  return out;
}

template <class T>
Bytes little_endian(const std::vector<T>& values) {
  Bytes b;
  for (T v : values) put(b, static_cast<std::uint64_t>(v), sizeof(T));
  return b;
}

TEST_F(Npz, EveryDtypeRoundTrips) {
  torch::manual_seed(0);
  std::vector<std::pair<std::string, torch::Tensor>> arrays = {
      {"f32", torch::randn({3, 4, 5})},
      {"f64", torch::randn({7}, torch::kFloat64)},
      {"f16", torch::randn({2, 3}).to(torch::kHalf)},
      {"i64", torch::randint(-(1LL << 40), 1LL << 40, {4, 2}, torch::kInt64)},
      {"i32", torch::randint(-100000, 100000, {6}, torch::kInt32)},
      {"i16", torch::randint(-30000, 30000, {2, 2}, torch::kInt16)},
      {"i8", torch::randint(-128, 128, {9}, torch::kInt8)},
      {"u8", torch::randint(0, 256, {2, 3, 4, 1}, torch::kUInt8)},
      {"b1", torch::rand({5, 5}) > 0.5},
      {"scalar", torch::tensor(3.5)},
      {"empty", torch::zeros({0, 3})},
      {"strided", torch::arange(12, torch::kFloat32).view({3, 4}).t()},  // written as its values, C order
  };
  medadv::write_npz(file("all.npz"), arrays);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1) << "no temporary file left";
  auto back = medadv::read_npz(file("all.npz"));
  ASSERT_EQ(back.size(), arrays.size());
  for (const auto& [name, tensor] : arrays) {
    ASSERT_TRUE(back.count(name)) << name;
    EXPECT_EQ(back[name].scalar_type(), tensor.scalar_type()) << name;
    EXPECT_EQ(back[name].sizes(), tensor.sizes()) << name;
    EXPECT_TRUE(torch::equal(back[name], tensor)) << name;
  }
  // Data start 64-byte aligned, as numpy writes them (it memory-maps on that assumption).
  const Bytes bytes = read_bytes(file("all.npz"));
  const std::string text(bytes.begin(), bytes.end());
  const auto header = text.find("\x93NUMPY");
  ASSERT_NE(header, std::string::npos);
  const std::size_t length = bytes[header + 8] | (bytes[header + 9] << 8);
  EXPECT_EQ((10 + length) % 64, 0u);
  // Writing is deterministic (fixed timestamps): caches of equal data are equal files.
  medadv::write_npz(file("again.npz"), arrays);
  EXPECT_EQ(read_bytes(file("again.npz")), bytes);
}

TEST_F(Npz, ArraysWrittenByRowsAreTheFilesOfTheWholeArraysReadBlockByBlock) {
  const auto images = torch::rand({103, 3, 5, 4});
  const auto labels = torch::arange(103);
  medadv::write_npz(file("whole.npz"), {{"images", images}, {"labels", labels}, {"scalar", torch::tensor(2.5)}});
  std::vector<std::int64_t> asked;
  auto rows_of = [&](const torch::Tensor& t) {
    return [&asked, t](std::int64_t begin, std::int64_t end) {
      asked.push_back(end - begin);
      return t.dim() == 0 ? t : t.slice(0, begin, end);
    };
  };
  std::vector<medadv::NpzRows> arrays{{"images", torch::kFloat, images.sizes().vec(), rows_of(images)},
                                      {"labels", torch::kLong, {103}, rows_of(labels)},
                                      {"scalar", torch::kFloat, {}, rows_of(torch::tensor(2.5))}};
  medadv::write_npz(file("rows.npz"), arrays, 10);
  // The same bytes as the archive of the whole arrays; no block over 10 rows was asked for.
  EXPECT_EQ(read_bytes(file("rows.npz")), read_bytes(file("whole.npz")));
  ASSERT_EQ(asked.size(), 11u + 11u + 1u);
  EXPECT_EQ(*std::max_element(asked.begin(), asked.end()), 10);
  EXPECT_EQ(asked[10], 3);

  // A block of the wrong shape fails the write, naming the array, and leaves no file.
  arrays[1].rows = [](std::int64_t begin, std::int64_t end) { return torch::arange(begin, end + 1); };
  try {
    medadv::write_npz(file("bad.npz"), arrays, 10);
    FAIL() << "a block of 11 rows for 10 was written";
  } catch (const medadv::Error& e) {
    EXPECT_NE(std::string(e.what()).find("array 'labels'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.npz"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(file("bad.npz")));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2) << "no temporary file left";
}

TEST_F(Npz, HandBuiltDeflatedFortranAndZip64EntriesReadCorrectly) {
  // [[1,2,3],[4,5,6]] stored column-major: 1,4,2,5,3,6.
  const Bytes fortran = npy("<i4", "(2, 3)", true, little_endian<std::int32_t>({1, 4, 2, 5, 3, 6}));
  // [2,3,2] in Fortran order: element (i,j,k) at i + 2j + 6k.
  std::vector<double> cube(12);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) cube[static_cast<std::size_t>(i + 2 * j + 6 * k)] = 100 * i + 10 * j + k;
  Bytes cube_bytes;
  for (double v : cube) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    put(cube_bytes, bits, 8);
  }
  const Bytes unsigned16 = npy("<u2", "(3,)", false, little_endian<std::uint16_t>({0, 40000, 65535}), 2);
  const Bytes unsigned32 = npy("<u4", "(2,)", false, little_endian<std::uint32_t>({4000000000u, 7}));
  const Bytes flags = npy("|b1", "(3,)", false, {1, 0, 1});
  const Bytes scalar = npy("<f4", "()", false, little_endian<std::uint32_t>({0x3fc00000u}));  // 1.5f

  const std::vector<HandEntry> entries = {{"fortran.npy", fortran, true, false},
                                          {"cube.npy", npy("<f8", "(2, 3, 2)", true, cube_bytes), true, true},
                                          {"u16.npy", unsigned16, false, true},
                                          {"u32.npy", unsigned32, true, false},
                                          {"flags.npy", flags, false, false},
                                          {"scalar.npy", scalar, true, false},
                                          {"README.txt", {'h', 'i'}, false, false}};
  write_bytes(file("hand.npz"), hand_zip(entries));
  write_bytes(file("hand64.npz"), hand_zip(entries, true));
  for (const char* name : {"hand.npz", "hand64.npz"}) {
    SCOPED_TRACE(name);
    auto a = medadv::read_npz(file(name));
    EXPECT_EQ(a.size(), 6u);  // README.txt is not an array
    EXPECT_TRUE(torch::equal(a["fortran"], torch::tensor({1, 2, 3, 4, 5, 6}, torch::kInt32).view({2, 3})));
    ASSERT_EQ(a["cube"].sizes(), (std::vector<std::int64_t>{2, 3, 2}));
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 2; ++k) EXPECT_EQ(a["cube"][i][j][k].item<double>(), 100 * i + 10 * j + k);
    EXPECT_TRUE(a["cube"].is_contiguous());
    EXPECT_TRUE(torch::equal(a["u16"], torch::tensor({0, 40000, 65535}, torch::kInt32)));
    EXPECT_TRUE(torch::equal(a["u32"], torch::tensor({std::int64_t{4000000000}, std::int64_t{7}}, torch::kInt64)));
    EXPECT_TRUE(torch::equal(a["flags"], torch::tensor({true, false, true})));
    EXPECT_EQ(a["scalar"].dim(), 0);
    EXPECT_EQ(a["scalar"].item<float>(), 1.5f);
  }
}

// read_npz_rows hands an array block by block, deflated or stored, zip64 or not, exactly
// as read_npz returns it whole; npz_arrays describes the arrays from their headers; a 0-d
// or Fortran-order array, or a missing name, is refused naming the file and the array.
TEST_F(Npz, RowsOfDeflatedAndStoredArraysComeBlockByBlockAsTheWholeArray) {
  Bytes images_bytes;
  for (int v = 0; v < 7 * 2 * 3; ++v) images_bytes.push_back(static_cast<std::uint8_t>(v * 5));
  const Bytes images = npy("|u1", "(7, 2, 3)", false, images_bytes);
  const Bytes labels = npy("<u2", "(7,)", false, little_endian<std::uint16_t>({0, 1, 65535, 3, 4, 5, 6}), 2);
  const Bytes fortran = npy("<i4", "(2, 3)", true, little_endian<std::int32_t>({1, 4, 2, 5, 3, 6}));
  const Bytes scalar = npy("<f4", "()", false, little_endian<std::uint32_t>({0x3fc00000u}));
  for (const bool zip64 : {false, true}) {
    for (const bool deflate : {true, false}) {
      SCOPED_TRACE(std::string(zip64 ? "zip64 " : "") + (deflate ? "deflated" : "stored"));
      write_bytes(file("rows.npz"), hand_zip({{"images.npy", images, deflate, zip64},
                                              {"labels.npy", labels, deflate, false},
                                              {"fortran.npy", fortran, deflate, false},
                                              {"scalar.npy", scalar, deflate, false}},
                                             zip64));
      const auto whole = medadv::read_npz(file("rows.npz"));
      const auto infos = medadv::npz_arrays(file("rows.npz"));
      ASSERT_EQ(infos.size(), 4u);
      EXPECT_EQ(infos[0].name, "images");
      EXPECT_EQ(infos[0].dtype, torch::kUInt8);
      EXPECT_EQ(infos[0].shape, (std::vector<std::int64_t>{7, 2, 3}));
      EXPECT_EQ(infos[1].dtype, torch::kInt32);  // u2 widens, as read_npz does
      EXPECT_EQ(infos[2].shape, (std::vector<std::int64_t>{2, 3}));
      EXPECT_TRUE(infos[3].shape.empty());
      for (const char* name : {"images", "labels"}) {
        std::vector<torch::Tensor> blocks;
        std::vector<std::int64_t> begins;
        medadv::read_npz_rows(file("rows.npz"), name, 3, [&](std::int64_t begin, const torch::Tensor& block) {
          begins.push_back(begin);
          blocks.push_back(block.clone());
        });
        EXPECT_EQ(begins, (std::vector<std::int64_t>{0, 3, 6})) << name;
        EXPECT_LE(blocks.front().size(0), 3);
        EXPECT_TRUE(torch::equal(torch::cat(blocks), whole.at(name))) << name;
      }
      for (const char* refused : {"fortran", "scalar", "missing"}) {
        EXPECT_THROW(medadv::read_npz_rows(file("rows.npz"), refused, 2, [](std::int64_t, const torch::Tensor&) {}),
                     medadv::InvalidInput);
        const std::string message =
            error_of([&] { medadv::read_npz_rows(file("rows.npz"), refused, 2, [](std::int64_t, const torch::Tensor&) {}); });
        EXPECT_NE(message.find("rows.npz"), std::string::npos) << message;
        EXPECT_NE(message.find(refused), std::string::npos) << message;
      }
    }
  }
}

TEST_F(Npz, BrokenArchivesNameTheFileAndTheArray) {
  medadv::write_npz(file("good.npz"), {{"images", torch::rand({4, 8, 8})}, {"labels", torch::arange(4)}});
  const Bytes good = read_bytes(file("good.npz"));

  write_bytes(file("half.npz"), Bytes(good.begin(), good.begin() + static_cast<long>(good.size() / 2)));
  auto message = invalid_input_of([&] { medadv::read_npz(file("half.npz")); });
  EXPECT_NE(message.find(file("half.npz").string()), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;

  write_bytes(file("noise.npz"), Bytes(200, 0x37));
  message = invalid_input_of([&] { medadv::read_npz(file("noise.npz")); });
  EXPECT_NE(message.find("noise.npz"), std::string::npos) << message;
  EXPECT_NE(message.find("not a zip"), std::string::npos) << message;

  // A flipped data byte: caught by the CRC.
  Bytes corrupt = good;
  corrupt[200] ^= 0x01;
  write_bytes(file("corrupt.npz"), corrupt);
  message = invalid_input_of([&] { medadv::read_npz(file("corrupt.npz")); });
  EXPECT_NE(message.find("CRC"), std::string::npos) << message;
  EXPECT_NE(message.find("images"), std::string::npos) << message;

  // Zip intact, .npy inside claims more data than it holds.
  write_bytes(file("short.npz"), hand_zip({{"x.npy", npy("<f4", "(10,)", false, Bytes(12, 0)), true, false}}));
  message = invalid_input_of([&] { medadv::read_npz(file("short.npz")); });
  EXPECT_NE(message.find("array 'x'"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;

  write_bytes(file("big_endian.npz"), hand_zip({{"be.npy", npy(">f4", "(1,)", false, Bytes(4, 0)), false, false}}));
  message = invalid_input_of([&] { medadv::read_npz(file("big_endian.npz")); });
  EXPECT_NE(message.find("big_endian.npz"), std::string::npos) << message;
  EXPECT_NE(message.find("array 'be'"), std::string::npos) << message;
  EXPECT_NE(message.find("big-endian"), std::string::npos) << message;

  write_bytes(file("complex.npz"), hand_zip({{"c.npy", npy("<c8", "(1,)", false, Bytes(8, 0)), false, false}}));
  message = invalid_input_of([&] { medadv::read_npz(file("complex.npz")); });
  EXPECT_NE(message.find("unsupported dtype '<c8'"), std::string::npos) << message;

  Bytes not_npy = npy("<f4", "(1,)", false, Bytes(4, 0));
  not_npy[1] = 'X';
  write_bytes(file("magic.npz"), hand_zip({{"m.npy", not_npy, true, false}}));
  message = invalid_input_of([&] { medadv::read_npz(file("magic.npz")); });
  EXPECT_NE(message.find("array 'm'"), std::string::npos) << message;
  EXPECT_NE(message.find("magic"), std::string::npos) << message;

  message = invalid_input_of([&] { medadv::read_npz(file("absent.npz")); });
  EXPECT_NE(message.find("absent.npz"), std::string::npos) << message;
}

// numpy's savez writes every member through zipfile with force_zip64=True (zip64 local
// headers, version 4.5). Python's zipfile builds the archive here, so the reader is checked
// against the library numpy uses, stored and deflated.
TEST_F(Npz, ReadsZip64ArchivesWrittenByPythonsZipfile) {
  const Bytes labels = npy("<i8", "(3,)", false, little_endian<std::int64_t>({2, -1, 1LL << 40}));
  const Bytes image = npy("<f4", "(2, 2)", false, little_endian<std::uint32_t>({0x3f800000u, 0, 0xbf800000u, 0x40000000u}));
  write_bytes(file("labels.npy"), labels);
  write_bytes(file("image.npy"), image);
  const std::string script =
      "import sys, zipfile\n"
      "out, folder = sys.argv[1], sys.argv[2]\n"
      "with zipfile.ZipFile(out, 'w') as z:\n"
      "    for name, method in (('labels', zipfile.ZIP_STORED), ('image', zipfile.ZIP_DEFLATED)):\n"
      "        info = zipfile.ZipInfo(name + '.npy')\n"
      "        info.compress_type = method\n"
      "        with z.open(info, 'w', force_zip64=True) as f:\n"
      "            f.write(open(folder + '/' + name + '.npy', 'rb').read())\n";
  std::ofstream(file("make.py")) << script;
  const std::string command =
      "python3 " + file("make.py").string() + " " + file("python.npz").string() + " " + dir_.string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command << " (python3 is in scripts/common.sh's packages)";
  const Bytes zip = read_bytes(file("python.npz"));
  ASSERT_GE(zip.size(), 30u);
  EXPECT_EQ(zip[4], 45) << "version needed 4.5: zip64";

  auto a = medadv::read_npz(file("python.npz"));
  ASSERT_EQ(a.size(), 2u);
  EXPECT_TRUE(torch::equal(a["labels"], torch::tensor({std::int64_t{2}, std::int64_t{-1}, std::int64_t{1} << 40})));
  EXPECT_TRUE(torch::equal(a["image"], torch::tensor({1.0f, 0.0f, -1.0f, 2.0f}).view({2, 2})));
}

// Sizes read from a file never reach the allocator unchecked: each of these once ended in
// std::bad_alloc (exit 1) naming neither the file nor the array.
TEST_F(Npz, CorruptSizesAreRefusedBeforeAllocatingNamingTheFileAndTheArray) {
  // 2^61 float64 values: 2^64 bytes, which wraps to 0 in 64 bits and matches an empty member.
  write_bytes(file("wraps.npz"), hand_zip({{"huge.npy", npy("<f8", "(2305843009213693952,)", false, {}), false, false}}));
  auto message = invalid_input_of([&] { medadv::read_npz(file("wraps.npz")); });
  EXPECT_NE(message.find(file("wraps.npz").string()), std::string::npos) << message;
  EXPECT_NE(message.find("array 'huge'"), std::string::npos) << message;
  EXPECT_NE(message.find("overflows"), std::string::npos) << message;

  // A 3 KB archive whose directory and .npy header agree on 64 GiB of float64 zeros.
  const std::uint64_t declared_values = std::uint64_t{1} << 33;
  const Bytes header = npy("<f8", "(" + std::to_string(declared_values) + ",)", false, {});
  Bytes start = header;
  start.resize(header.size() + 3000, 0);
  HandEntry bomb{"zeros.npy", start, true, true, header.size() + declared_values * 8};
  write_bytes(file("bomb.npz"), hand_zip({bomb}));
  ASSERT_LT(fs::file_size(file("bomb.npz")), 3000u);
  message = invalid_input_of([&] { medadv::read_npz(file("bomb.npz")); });
  EXPECT_NE(message.find(file("bomb.npz").string()), std::string::npos) << message;
  EXPECT_NE(message.find("array 'zeros'"), std::string::npos) << message;
  EXPECT_NE(message.find("more than deflate can produce"), std::string::npos) << message;

  // The same declared size, stored: more bytes than the whole file.
  bomb.deflate = false;
  write_bytes(file("stored.npz"), hand_zip({bomb}));
  message = invalid_input_of([&] { medadv::read_npz(file("stored.npz")); });
  EXPECT_NE(message.find("array 'zeros'"), std::string::npos) << message;
  EXPECT_NE(message.find("stored.npz"), std::string::npos) << message;

  // A header that disagrees with the member's size in the archive.
  write_bytes(file("long.npz"), hand_zip({{"x.npy", npy("<f4", "(2,)", false, Bytes(12, 0)), true, false}}));
  message = invalid_input_of([&] { medadv::read_npz(file("long.npz")); });
  EXPECT_NE(message.find("array 'x'"), std::string::npos) << message;
  EXPECT_NE(message.find("4 unexpected bytes"), std::string::npos) << message;
}

TEST_F(Npz, WriteRefusesBadArraysAndKeepsTheOldFile) {
  medadv::write_npz(file("keep.npz"), {{"a", torch::ones({2})}});
  const Bytes before = read_bytes(file("keep.npz"));
  auto message = invalid_input_of([&] { medadv::write_npz(file("keep.npz"), {{"a", torch::ones({2})}, {"a", torch::zeros({2})}}); });
  EXPECT_NE(message.find("twice"), std::string::npos) << message;
  message = invalid_input_of([&] { medadv::write_npz(file("keep.npz"), {{"z", torch::ones({2}, torch::kComplexFloat)}}); });
  EXPECT_NE(message.find("'z'"), std::string::npos) << message;
  EXPECT_NE(message.find("keep.npz"), std::string::npos) << message;
  EXPECT_EQ(read_bytes(file("keep.npz")), before);
  EXPECT_THROW(medadv::write_npz(file("missing_dir") / "x.npz", {{"a", torch::ones({1})}}), medadv::Error);
}

}  // namespace
