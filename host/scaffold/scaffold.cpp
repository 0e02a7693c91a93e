#include "scaffold/scaffold.h"

#include <algorithm>
#include <string_view>

#include "medadv/error.h"
#include "scaffold/template_files.h"

// The templates (scaffold/templates/) are the files a plugin author starts from, so they
// are written to be read: each plugin is short, correct and commented with the reasons a
// first reader needs, and each test checks behaviour that a broken edit would violate.
// templates/KIND/ holds a kind's files and templates/common/ what every kind shares; a
// file in both (README.md) is the kind's part followed by the common part. File names
// carry placeholders too (templates/attack/@TARGET@.h).
//
// Placeholders (chosen so they can never be valid C++, CMake or Markdown by accident):
//   @NAME@    the plugin name as written in experiments     my-attack
//   @TARGET@  the CMake target and library base name        my_attack -> libmy_attack.so
//   @CLASS@   the C++ class name                            MyAttack

namespace medadv::host {

namespace {

constexpr std::size_t kMaxNameLength = 64;

struct Names {
  std::string name, target, klass;
};

std::string target_of(const std::string& name) {
  std::string t = name;
  for (auto& c : t)
    if (c == '-') c = '_';
  return t;
}

std::string class_of(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return out;
}

std::string substitute(std::string_view text, const Names& n) {
  static constexpr std::string_view kName = "@NAME@", kTarget = "@TARGET@", kClass = "@CLASS@";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t at = text.find('@', i);
    if (at == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, at - i));
    const std::string_view rest = text.substr(at);
    if (rest.substr(0, kName.size()) == kName) {
      out += n.name;
      i = at + kName.size();
    } else if (rest.substr(0, kTarget.size()) == kTarget) {
      out += n.target;
      i = at + kTarget.size();
    } else if (rest.substr(0, kClass.size()) == kClass) {
      out += n.klass;
      i = at + kClass.size();
    } else {
      out += '@';
      i = at + 1;
    }
  }
  return out;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

void validate_plugin_name(const std::string& name) {
  const std::string shown = "'" + name + "'";
  if (name.empty())
    throw InvalidInput("plugin name is empty; use lower-case letters, digits and '-', e.g. my-attack");
  if (name.size() > kMaxNameLength)
    throw InvalidInput("plugin name " + shown + " is " + std::to_string(name.size()) + " characters long; at most " +
                       std::to_string(kMaxNameLength) + " are allowed");
  if (name.front() < 'a' || name.front() > 'z')
    throw InvalidInput("plugin name " + shown + " must start with a lower-case letter (a-z)");
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok)
      throw InvalidInput("plugin name " + shown + " has '" + std::string(1, c) + "' at position " +
                         std::to_string(i + 1) + "; only lower-case letters, digits and '-' are allowed");
  }
  if (name.back() == '-') throw InvalidInput("plugin name " + shown + " must not end with '-'");
  // The name becomes a CMake target in the generated project: these would clash with
  // targets that CMake, CTest or LibTorch's package already define.
  static const char* const reserved[] = {
      "all", "clean", "help", "install", "install_local", "install_strip", "preinstall", "list_install_components",
      "test", "package", "package_source", "edit_cache", "rebuild_cache",                        // CMake, CTest
      "torch", "torch_cpu", "torch_cuda", "torch_library", "torch_cpu_library", "c10", "c10_cuda",  // LibTorch
      "gflags", "cuda_target", "dummy"};
  const std::string target = target_of(name);
  for (const char* r : reserved)
    if (target == r)
      throw InvalidInput("plugin name " + shown + " would make the CMake target '" + target +
                         "', which CMake or LibTorch already uses; choose another name");
}

std::vector<ScaffoldFile> scaffold_plugin(Kind kind, const std::string& name) {
  validate_plugin_name(name);
  const Names names{name, target_of(name), class_of(name)};
  const std::string kind_folder = std::string(kind_name(kind)) + "/";
  constexpr std::string_view common_folder = "common/";
  std::vector<ScaffoldFile> files;
  for (const auto& t : scaffold::template_files())
    if (starts_with(t.path, kind_folder))
      files.push_back({substitute(t.path.substr(kind_folder.size()), names), substitute(t.content, names)});
  if (files.empty()) throw Error("medadv new: this medadv has no template for " + kind_folder);
  for (const auto& t : scaffold::template_files()) {
    if (!starts_with(t.path, common_folder)) continue;
    ScaffoldFile common{substitute(t.path.substr(common_folder.size()), names), substitute(t.content, names)};
    auto same = std::find_if(files.begin(), files.end(), [&](const ScaffoldFile& f) { return f.path == common.path; });
    if (same == files.end())
      files.push_back(std::move(common));
    else
      same->content += common.content;
  }
  return files;
}

}  // namespace medadv::host
