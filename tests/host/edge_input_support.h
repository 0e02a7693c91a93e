#pragma once
// Helpers of the tests that feed bad and edge inputs to the host (issue 24): a fresh
// scratch folder, the message an input fails with, and the built-in plugins.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "loader/registry.h"

namespace medadv::testing {

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// An empty folder of its own under the test's temporary directory.
inline std::filesystem::path scratch_dir(const std::string& name) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / ("medadv_edge_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// What `f` throws, or "" when it returns.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// The plugins built with the project (no MEDADV_PLUGIN_PATH, no user folders).
inline const medadv::host::PluginRegistry& built_in_plugins() {
  static medadv::host::PluginRegistry* registry = [] {
    auto* r = new medadv::host::PluginRegistry();
    r->discover(medadv::host::build_search_path({{}, {}, true}));
    return r;
  }();
  return *registry;
}

}  // namespace medadv::testing
