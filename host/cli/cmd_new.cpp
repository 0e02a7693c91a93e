#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "common/logging.h"
#include "scaffold/scaffold.h"

namespace medadv::host {

namespace {

void declare_new_options(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("kind", po::value<std::string>()->required(), "plugin kind")(
      "name", po::value<std::string>()->required(), "plugin name (lower-case, digits, '-')")(
      "dir", po::value<std::string>()->default_value("."), "where to create the folder");
  p.add("kind", 1).add("name", 1);
}

int execute_new(const po::variables_map& vm, const GlobalOptions&) {
  const std::string kind_text = vm["kind"].as<std::string>();
  const auto kind = parse_kind(kind_text);
  if (!kind) {
    std::string message = "unknown kind '" + kind_text + "'" + did_you_mean(kind_text, all_kind_names()) + "; kinds:";
    for (const auto& k : all_kind_names()) message += " " + k;
    throw InvalidInput(message);
  }
  const std::string name = vm["name"].as<std::string>();
  validate_plugin_name(name);
  const std::filesystem::path folder = std::filesystem::path(vm["dir"].as<std::string>()) / name;
  std::error_code ec;
  if (std::filesystem::exists(folder, ec))
    throw InvalidInput(folder.string() + " already exists; medadv new never overwrites (choose another name or --dir)");
  const auto files = scaffold_plugin(*kind, name);
  std::filesystem::create_directories(folder, ec);
  if (ec) throw InvalidInput("cannot create " + folder.string() + ": " + ec.message());
  for (const auto& f : files) {
    const auto path = folder / f.path;
    std::filesystem::create_directories(path.parent_path(), ec);
    std::ofstream out(path);
    out << f.content;
    if (!out) throw Error("cannot write " + path.string());
  }
  std::cout << "created " << kind_text << " plugin '" << name << "' in " << folder.string() << "\n"
            << "build it:  cmake -S " << folder.string() << " -B " << (folder / "build").string()
            << " -DCMAKE_PREFIX_PATH=<medadv prefix> && cmake --build " << (folder / "build").string() << "\n"
            << "test it:   ctest --test-dir " << (folder / "build").string() << "\n"
            << "use it:    medadv plugins check " << (folder / "build").string() << "/lib"
            << [&] {
                 std::string t = name;
                 for (auto& ch : t)
                   if (ch == '-') ch = '_';
                 return t;
               }()
            << ".so\n";
  return kExitOk;
}

}  // namespace

Command new_command() { return {"new", declare_new_options, execute_new}; }

}  // namespace medadv::host
