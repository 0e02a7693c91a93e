// SHA-256 against FIPS 180-4 test vectors and against coreutils' sha256sum.
#include <gtest/gtest.h>

#include <cstdint>

#include <cstdio>
#include <fstream>

#include "common/sha256.h"
#include "medadv/error.h"

using medadv::host::sha256_file;
using medadv::host::sha256_hex;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, FileMatchesSha256sum) {
  const std::string path = testing::TempDir() + "/sha_input.bin";
  {
    std::ofstream out(path, std::ios::binary);
    for (std::uint32_t i = 0; i < 300000; ++i) out.put(static_cast<char>((i * 7919u) & 0xffu));
  }
  FILE* pipe = popen(("sha256sum " + path).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[65] = {};
  ASSERT_EQ(fread(buffer, 1, 64, pipe), 64u);
  pclose(pipe);
  EXPECT_EQ(sha256_file(path), std::string(buffer));
}

TEST(Sha256, UnreadableFileIsNamed) {
  try {
    sha256_file("/nonexistent/lib.so");
    FAIL();
  } catch (const medadv::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/lib.so"), std::string::npos);
  }
}
