#include "loader/search_path.h"

#include <boost/dll/runtime_symbol_info.hpp>

#include <cstdlib>
#include <sstream>

#include "medadv/error.h"

#ifndef MEDADV_INSTALL_PLUGIN_DIR
#define MEDADV_INSTALL_PLUGIN_DIR "/usr/local/lib/medadv/plugins"
#endif

namespace medadv::host {

namespace {
std::vector<std::string> split_colon(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ':'))
    if (!part.empty()) parts.push_back(part);
  return parts;
}
}  // namespace

std::vector<SearchEntry> default_search_entries() {
  std::vector<SearchEntry> entries;
  std::filesystem::path data_home;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) data_home = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home) data_home = std::filesystem::path(home) / ".local/share";
  if (!data_home.empty()) entries.push_back({data_home / "medadv/plugins", "XDG data home", false});
  // The executable's own prefix: <prefix>/bin/medadv next to <prefix>/lib/medadv/plugins.
  // The build tree has the same shape (build/bin, build/lib/medadv/plugins).
  try {
    const std::filesystem::path exe = boost::dll::program_location().string();
    entries.push_back({exe.parent_path().parent_path() / "lib/medadv/plugins", "install prefix", false});
  } catch (...) {
  }
  entries.push_back({MEDADV_INSTALL_PLUGIN_DIR, "configured install prefix", false});
  return entries;
}

std::vector<SearchEntry> build_search_path(const SearchPathInputs& inputs) {
  std::vector<SearchEntry> entries;
  for (const auto& p : inputs.cli_paths) entries.push_back({p, "--plugin-path", true});
  if (const char* env = std::getenv("MEDADV_PLUGIN_PATH"); env && *env)
    for (const auto& p : split_colon(env)) entries.push_back({p, "MEDADV_PLUGIN_PATH", true});
  for (const auto& p : inputs.experiment_paths) entries.push_back({p, "experiment.plugin_path", true});
  if (inputs.include_defaults)
    for (auto& e : default_search_entries()) entries.push_back(std::move(e));

  std::vector<SearchEntry> unique;
  std::vector<std::filesystem::path> seen;
  for (auto& e : entries) {
    std::error_code ec;
    if (!std::filesystem::exists(e.path, ec)) {
      if (e.must_exist)
        throw InvalidInput("plugin path '" + e.path.string() + "' (from " + e.origin + ") does not exist");
      continue;
    }
    auto canonical = std::filesystem::weakly_canonical(e.path, ec);
    if (ec) canonical = e.path;
    bool duplicate = false;
    for (const auto& s : seen) duplicate = duplicate || s == canonical;
    if (duplicate) continue;
    seen.push_back(canonical);
    e.path = canonical;
    unique.push_back(std::move(e));
  }
  return unique;
}

}  // namespace medadv::host
