#include "scaffold/scaffold.h"

#include <string_view>

#include "medadv/error.h"
#include "scaffold/kind_template.h"

// The templates (scaffold/templates/, one file per kind) are the files a plugin author
// starts from, so they are written to be read: each plugin is short, correct and
// commented with the reasons a first reader needs, and each test checks behaviour that
// a broken edit would violate. This file holds what every kind shares.
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

using scaffold::KindTemplate;

KindTemplate template_for(Kind kind) {
  using namespace scaffold;
  switch (kind) {
    case Kind::Attack: return attack_template();
    case Kind::AttackTerm: return attack_term_template();
    case Kind::Preprocessor: return preprocessor_template();
    case Kind::Trainer: return trainer_template();
    case Kind::Wrapper: return wrapper_template();
    case Kind::Detector: return detector_template();
    case Kind::Dataset: return dataset_template();
    case Kind::Model: return model_template();
  }
  throw InvalidInput("medadv new: unknown plugin kind " + std::to_string(static_cast<std::uint32_t>(kind)));
}

// ------------------------------------------------------------ shared files

std::string cmake_lists() {
  return R"TPL(# The medadv plugin "@NAME@", built out of tree against an installed medadv:
#   cmake -S @NAME@ -B @NAME@/build -DCMAKE_PREFIX_PATH=<medadv prefix> && cmake --build @NAME@/build
cmake_minimum_required(VERSION 3.25)
project(@TARGET@ LANGUAGES CXX)

# The SDK headers and runtime (MedAdv::sdk), the LibTorch medadv was built with, and
# medadv_add_plugin(). Building against that same LibTorch is what lets medadv load
# the library.
find_package(MedAdvSDK REQUIRED)

# lib@TARGET@.so: a MODULE compiled with hidden visibility, so the entry symbol
# written by MEDADV_PLUGINS(...) in @TARGET@.cpp is its only export.
medadv_add_plugin(@TARGET@ SOURCES @TARGET@.cpp)

# The test compiles the header-only plugin class into its own executable (no entry
# symbol, no loading), so it can call the class directly. Without GoogleTest the test
# is skipped and the plugin still builds.
include(CTest)
find_package(GTest)
if(BUILD_TESTING AND GTest_FOUND)
  add_executable(test_@TARGET@ test_@TARGET@.cpp)
  target_link_libraries(test_@TARGET@ PRIVATE MedAdv::sdk GTest::gtest_main)
  add_test(NAME test_@TARGET@ COMMAND test_@TARGET@)
endif()
)TPL";
}

std::string plugin_source(const KindTemplate& t) {
  return std::string(R"TPL(// Registers the @NAME@ plugin. The class lives in @TARGET@.h so that
// test_@TARGET@.cpp can use it without this library's entry symbol. A library has
// exactly one MEDADV_PLUGINS line; to ship several plugins together, list them all in it.
#include "@TARGET@.h"

MEDADV_PLUGINS(medadv::)TPL") +
         t.helper + "<@CLASS@>(\n    \"@NAME@\", \"0.1.0\", \"" + t.summary + "\"" + t.threat + "))\n";
}

std::string readme(Kind kind, const KindTemplate& t) {
  return "# @NAME@\n\n" + std::string(t.summary) + ": a medadv " + kind_name(kind) + " plugin.\n\n" + t.about +
         "\n" + R"TPL(
## Files

- `@TARGET@.h`: the plugin class, implemented in the header so the test can include it.
- `@TARGET@.cpp`: the registration line (`MEDADV_PLUGINS`): name, version, summary.
- `test_@TARGET@.cpp`: a GoogleTest test of the plugin's behaviour.
- `CMakeLists.txt`: builds `lib@TARGET@.so` with `medadv_add_plugin()` and the test.

## Build, test, check

From the directory that contains `@NAME@/`, where `<medadv prefix>` is the prefix
medadv was installed to (the one holding `lib/cmake/MedAdvSDK`, e.g. `/usr/local`):

```sh
cmake -S @NAME@ -B @NAME@/build -DCMAKE_PREFIX_PATH=<medadv prefix> && cmake --build @NAME@/build
ctest --test-dir @NAME@/build --output-on-failure
medadv plugins check @NAME@/build/lib@TARGET@.so
medadv plugins list --plugin-path @NAME@/build
```

The test needs GoogleTest (Debian/Ubuntu: `libgtest-dev`); without it `ctest` finds no
tests. `medadv plugins check` loads the library in a child process, checks its ABI,
SDK, LibTorch and C++ ABI tags and its parameter schema, and smoke-runs the plugin on
a tiny synthetic batch. `medadv plugins list --plugin-path @NAME@/build` shows it the
way experiments will see it, and `medadv plugins info @NAME@ --plugin-path @NAME@/build`
prints its parameters.

## Install

Copy the library into your user plugin directory, where every medadv command finds it:

```sh
mkdir -p ~/.local/share/medadv/plugins
cp @NAME@/build/lib@TARGET@.so ~/.local/share/medadv/plugins/
```

(`$XDG_DATA_HOME/medadv/plugins` when `XDG_DATA_HOME` is set; `--plugin-path DIR` or
`MEDADV_PLUGIN_PATH` work without copying.) Experiments then refer to it as `@NAME@`.

## Share

- Send `lib@TARGET@.so` to a collaborator whose medadv has the same plugin ABI (major
  version) and the same LibTorch version, built with the same C++ ABI; their
  `medadv plugins check lib@TARGET@.so` says whether it loads.
- Otherwise send this folder (without `build/`); they build it as above against their
  own medadv.
)TPL";
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
  const KindTemplate t = template_for(kind);
  return {
      {"CMakeLists.txt", substitute(cmake_lists(), names)},
      {names.target + ".h", substitute(t.header, names)},
      {names.target + ".cpp", substitute(plugin_source(t), names)},
      {"test_" + names.target + ".cpp", substitute(t.test, names)},
      {"README.md", substitute(readme(kind, t), names)},
  };
}

}  // namespace medadv::host
