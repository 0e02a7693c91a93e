#pragma once
// What the fuzz targets share: most readers under test take a path, so each input is
// written to a file in a scratch folder of the fuzzing process's own first.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace medadv::fuzz {

// A folder of this process's own under the temporary directory, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const auto d = std::filesystem::temp_directory_path() / ("medadv-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return d;
  }();
  return dir;
}

// The input written to `relative` under scratch_dir() (parent folders made), replacing
// what the previous input left there.
inline std::filesystem::path input_file(const std::uint8_t* data, std::size_t size, const std::string& relative) {
  const auto file = scratch_dir() / relative;
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) std::abort();  // the scratch folder itself failed: not a finding about the input
  return file;
}

inline std::string input_text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace medadv::fuzz
