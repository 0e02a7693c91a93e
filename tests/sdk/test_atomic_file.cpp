// medadv/atomic_file.h: whole files replaced atomically (concurrent writers included),
// failures that leave the old file and no temporary one, durable appends.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "medadv/atomic_file.h"
#include "medadv/error.h"

namespace {

namespace fs = std::filesystem;

class AtomicFile : public ScratchTest {
 protected:

  static std::string read(const fs::path& file) { return slurp(file.string()); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    return out;
  }
};

TEST_F(AtomicFile, ReplacesTheWholeFileAndLeavesNothingBeside) {
  const fs::path file = dir_ / "run.json";
  medadv::write_file_atomically(file, std::string("first version, the longer one"));
  medadv::write_file_atomically(file, std::string("second"));
  EXPECT_EQ(read(file), "second");
  medadv::write_file_atomically(file, std::string());
  EXPECT_EQ(read(file), "");
  EXPECT_EQ(names(), std::vector<std::string>{"run.json"});
}

TEST_F(AtomicFile, ConcurrentWritersOfOneFileNeverMixTheirContent) {
  const fs::path file = dir_ / "shared.txt";
  constexpr int kWriters = 4, kWrites = 25;
  constexpr std::size_t kSize = 1 << 16;
  medadv::write_file_atomically(file, std::string(kSize, 'a'));
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, reads{0};
  std::thread reader([&] {
    while (!done) {
      const std::string text = read(file);
      ++reads;
      if (text.size() != kSize || text.find_first_not_of(text[0]) != std::string::npos) ++torn;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int k = 0; k < kWrites; ++k) medadv::write_file_atomically(file, std::string(kSize, static_cast<char>('b' + w)));
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0) << "a reader saw part of one writer's file or a mix of two";
  EXPECT_EQ(names(), std::vector<std::string>{"shared.txt"});
}

TEST_F(AtomicFile, ALibraryWritesThroughThePathItIsGiven) {
  const fs::path file = dir_ / "weights.pt";
  fs::path seen;
  medadv::write_file_atomically(file, [&](const fs::path& temporary) {
    seen = temporary;
    EXPECT_EQ(temporary.parent_path(), file.parent_path()) << "beside the file, so rename stays on one file system";
    std::ofstream(temporary, std::ios::binary) << "tensor bytes";
  });
  EXPECT_NE(seen, file);
  EXPECT_EQ(read(file), "tensor bytes");
  EXPECT_FALSE(fs::exists(seen));
}

TEST_F(AtomicFile, AFailedWriteKeepsTheOldFileAndRemovesTheTemporaryOne) {
  const fs::path file = dir_ / "manifest.json";
  medadv::write_file_atomically(file, std::string("old"));
  EXPECT_THROW(medadv::write_file_atomically(file,
                                             [&](const fs::path& temporary) {
                                               std::ofstream(temporary) << "half of the ne";
                                               throw std::runtime_error("disk full");
                                             }),
               std::runtime_error);
  EXPECT_EQ(read(file), "old");
  EXPECT_EQ(names(), std::vector<std::string>{"manifest.json"});

  const fs::path nowhere = dir_ / "missing" / "file.json";
  try {
    medadv::write_file_atomically(nowhere, std::string("x"));
    FAIL() << "no error for a missing directory";
  } catch (const medadv::Error& e) {
    EXPECT_NE(std::string(e.what()).find(nowhere.string()), std::string::npos) << e.what();
  }
}

TEST_F(AtomicFile, LinesAreAppendedWhole) {
  const fs::path file = dir_ / "results.jsonl";
  medadv::append_line_durably(file, "{\"trial\":1}");
  medadv::append_line_durably(file, "{\"trial\":2}");
  EXPECT_EQ(read(file), "{\"trial\":1}\n{\"trial\":2}\n");
  EXPECT_THROW(medadv::append_line_durably(dir_ / "missing" / "results.jsonl", "x"), medadv::Error);
}

}  // namespace
