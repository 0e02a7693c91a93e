#pragma once
// A folder of its own per test under the test temp dir, emptied first, with the weights
// cache inside it (the engine reads MEDADV_CACHE), for tests that run the engine in process.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

struct TempWorkspace {
  std::filesystem::path root;
  // `name` is unique per test: "engine_run" -> <tmp>/medadv_engine_run_<pid>.
  explicit TempWorkspace(const std::string& name) {
    root = std::filesystem::path(::testing::TempDir()) / ("medadv_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(root);
    std::filesystem::create_directories(root);
    ::setenv("MEDADV_CACHE", (root / "cache").c_str(), 1);
  }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(root / name) << text;
    return root / name;
  }
};
