#pragma once
// Discovery: every library on the search path, loaded once, its plugins indexed by
// kind and name. The first in search order wins; a shadowed plugin is a warning.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loader/plugin_library.h"
#include "loader/search_path.h"

namespace medadv::host {

struct LibraryProblem {
  std::filesystem::path file;
  std::string message;
};

class PluginRegistry {
 public:
  // Loads every library found on `search`. A file named directly must be a valid
  // plugin library; in a directory, a library with no medadv entry symbol at all is
  // skipped with a warning (plugin directories may hold helper libraries), while any
  // other fault is a problem. Problems and warnings are collected, not thrown.
  void discover(const std::vector<SearchEntry>& search);

  const std::vector<LibraryProblem>& problems() const { return problems_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::vector<std::shared_ptr<PluginLibrary>>& libraries() const { return libraries_; }
  const std::vector<SearchEntry>& searched() const { return searched_; }

  const PluginHandle* find(Kind kind, const std::string& name) const;
  // Throws InvalidInput: "no attack plugin named 'pdg' (did you mean 'pgd'?); attack
  // plugins: fgsm, pgd".
  const PluginHandle& require(Kind kind, const std::string& name) const;
  std::vector<const PluginHandle*> all(std::optional<Kind> kind = std::nullopt) const;
  std::vector<std::string> names(Kind kind) const;

 private:
  void add_library(const std::filesystem::path& file, bool named_directly);
  std::vector<SearchEntry> searched_;
  std::vector<std::shared_ptr<PluginLibrary>> libraries_;
  std::vector<PluginHandle> plugins_;  // in search order, shadowed ones excluded
  std::vector<LibraryProblem> problems_;
  std::vector<std::string> warnings_;
};

}  // namespace medadv::host
