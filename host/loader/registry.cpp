#include "loader/registry.h"

#include <algorithm>

namespace medadv::host {

namespace {
bool looks_like_library(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  return p.extension() == ".so" || name.find(".so.") != std::string::npos;
}
}  // namespace

void PluginRegistry::discover(const std::vector<SearchEntry>& search) {
  for (const auto& entry : search) {
    searched_.push_back(entry);
    std::error_code ec;
    if (std::filesystem::is_directory(entry.path, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& f : std::filesystem::directory_iterator(entry.path, ec))
        if (f.is_regular_file(ec) && looks_like_library(f.path())) files.push_back(f.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) add_library(f, false);
    } else {
      add_library(entry.path, true);
    }
  }
}

void PluginRegistry::add_library(const std::filesystem::path& file, bool named_directly) {
  const auto absolute = std::filesystem::absolute(file).lexically_normal();
  for (const auto& lib : libraries_)
    if (lib->path() == absolute) return;
  std::shared_ptr<PluginLibrary> library;
  try {
    library = PluginLibrary::open(file);
  } catch (const NotAPluginLibrary& e) {
    if (named_directly) problems_.push_back({file, e.what()});
    else warnings_.push_back(std::string(e.what()) + "; skipped");
    return;
  } catch (const std::exception& e) {
    problems_.push_back({file, e.what()});
    return;
  }
  libraries_.push_back(library);
  for (auto& plugin : library->plugins()) {
    if (const PluginHandle* first = find(plugin.kind(), plugin.name())) {
      warnings_.push_back(std::string(plugin.kind_text()) + " plugin '" + plugin.name() + "' in " +
                          library->path().string() + " is shadowed by the one in " +
                          first->library().path().string() + ", which comes first in the search path");
      continue;
    }
    plugins_.push_back(std::move(plugin));
  }
}

const PluginHandle* PluginRegistry::find(Kind kind, const std::string& name) const {
  for (const auto& p : plugins_)
    if (p.kind() == kind && p.name() == name) return &p;
  return nullptr;
}

std::vector<std::string> PluginRegistry::names(Kind kind) const {
  std::vector<std::string> result;
  for (const auto& p : plugins_)
    if (p.kind() == kind) result.push_back(p.name());
  std::sort(result.begin(), result.end());
  return result;
}

const PluginHandle& PluginRegistry::require(Kind kind, const std::string& name) const {
  if (const PluginHandle* p = find(kind, name)) return *p;
  const auto known = names(kind);
  std::string message = std::string("no ") + kind_name(kind) + " plugin named '" + name + "'";
  const auto close = closest_names(name, known);
  if (!close.empty()) {
    message += " (did you mean";
    for (std::size_t i = 0; i < close.size(); ++i) message += (i ? ", '" : " '") + close[i] + "'";
    message += "?)";
  }
  if (known.empty()) {
    message += std::string("; no ") + kind_name(kind) + " plugins were found on the search path";
  } else {
    message += std::string("; ") + kind_name(kind) + " plugins:";
    for (const auto& k : known) message += " " + k;
  }
  throw InvalidInput(message);
}

std::vector<const PluginHandle*> PluginRegistry::all(std::optional<Kind> kind) const {
  std::vector<const PluginHandle*> result;
  for (const auto& p : plugins_)
    if (!kind || p.kind() == *kind) result.push_back(&p);
  std::sort(result.begin(), result.end(), [](const PluginHandle* a, const PluginHandle* b) {
    return std::make_pair(static_cast<int>(a->kind()), a->name()) < std::make_pair(static_cast<int>(b->kind()), b->name());
  });
  return result;
}

}  // namespace medadv::host
