#pragma once
// SHA-256 (OpenSSL's EVP) as lowercase hex: the run manifest's record of every library
// loaded, and the keys of trials, trained models and variants.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace medadv::host {

class Sha256 {
 public:
  // Not copyable: it owns an OpenSSL digest context (the unique_ptr below).
  Sha256();
  ~Sha256();

  void update(const void* data, std::size_t size);
  // The digest of everything given to update(), as 64 lowercase hex digits.
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string sha256_hex(std::string_view data);
// Throws medadv::InvalidInput naming the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& file);

}  // namespace medadv::host
