#pragma once
// SHA-256 (FIPS 180-4) of files, for the run manifest's record of every library loaded.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

namespace medadv::host {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  std::array<std::uint8_t, 32> finish();

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_ = 0;
};

std::string sha256_hex(const std::string& data);
// Throws medadv::InvalidInput naming the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& file);

}  // namespace medadv::host
