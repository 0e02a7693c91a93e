#include "loader/plugin_library.h"

#include <boost/dll/library_info.hpp>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <cstddef>
#include <cstring>
#include <mutex>
#include <optional>
#include <sstream>

#include "common/sha256.h"
#include "loader/elf_symbols.h"
#include "loader/guard.h"
#include "medadv/build_info.h"
#include "medadv/version.h"

namespace medadv::host {

const HostAbi& host_abi() {
  static const HostAbi abi{MEDADV_ABI_MAJOR, MEDADV_ABI_MINOR,  MEDADV_TORCH_MAJOR,
                           MEDADV_TORCH_MINOR, MEDADV_CXX_ABI_TAG, MEDADV_VERSION};
  return abi;
}

std::string rebuild_hint() {
  std::string prefix = "<medadv prefix>";
  try {
    prefix = boost::dll::program_location().parent_path().parent_path().string();
  } catch (...) {
  }
  return "rebuild it against this medadv's SDK: cmake -S <plugin source> -B build -DCMAKE_PREFIX_PATH=" + prefix +
         " && cmake --build build";
}

namespace {

// Libraries are never unloaded: objects they made may live until exit.
std::vector<boost::dll::shared_library>& keep_loaded() {
  static auto* libraries = new std::vector<boost::dll::shared_library>();
  return *libraries;
}

[[noreturn]] void refuse(const std::filesystem::path& file, const std::string& why) {
  throw LibraryError(file.string() + ": " + why);
}

std::string version_text(std::uint32_t major, std::uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

constexpr std::size_t kPluginInfoSize10 = MEDADV_PLUGIN_INFO_SIZE_1_0;
constexpr std::size_t kDescriptorSize10 = MEDADV_DESCRIPTOR_SIZE_1_0;

// "MAJOR.MINOR.PATCH" of a library's SDK against the host's: the same major, and before 1.0
// the same minor too (docs/decisions.md, "Plugin ABI").
bool sdk_compatible(const std::string& library, const std::string& host) {
  auto major_minor = [](const std::string& v) -> std::optional<std::pair<long, long>> {
    long major = 0, minor = 0;
    char dot1 = 0, dot2 = 0;
    std::istringstream in(v);
    if (!(in >> major >> dot1 >> minor >> dot2) || dot1 != '.' || dot2 != '.') return std::nullopt;
    return std::make_pair(major, minor);
  };
  const auto l = major_minor(library), h = major_minor(host);
  if (!l || !h) return false;
  return l->first == h->first && (h->first > 0 || l->second == h->second);
}

void check_plugin_info(const std::filesystem::path& file, const medadv_plugin_info& p, std::size_t index) {
  const std::string which = "plugin #" + std::to_string(index) + (p.name ? " '" + std::string(p.name) + "'" : "");
  if (!kind_name(p.kind)) refuse(file, which + " declares unknown kind " + std::to_string(p.kind));
  if (!p.name || !*p.name) refuse(file, which + " has no name");
  if (!p.version || !*p.version) refuse(file, which + " has no version");
  if (!p.describe || !p.create || !p.destroy)
    refuse(file, which + " leaves a function pointer unset (describe, create and destroy are all required)");
  if (p.kind == MEDADV_KIND_ATTACK &&
      (p.threat_model < MEDADV_THREAT_WHITE_BOX || p.threat_model > MEDADV_THREAT_NO_BOX))
    refuse(file, which + " is an attack without a valid threat model (found " + std::to_string(p.threat_model) +
                     ")");
}

// The descriptor's plugin entries, stepped by the size the library wrote into the first
// one (every entry of one library has the same layout). Only the 1.0 fields are read.
std::vector<const medadv_plugin_info*> plugin_entries(const std::filesystem::path& file,
                                                      const medadv_library_descriptor& d) {
  const std::uint32_t stride = d.plugins[0].struct_size;
  if (stride < kPluginInfoSize10)
    refuse(file, "plugin #0 has a descriptor of " + std::to_string(stride) + " bytes, expected at least " +
                     std::to_string(kPluginInfoSize10) + " (the ABI 1.0 layout); " + rebuild_hint());
  if (stride % alignof(medadv_plugin_info) != 0)
    refuse(file, "plugin descriptors are " + std::to_string(stride) + " bytes, not a multiple of their " +
                     std::to_string(alignof(medadv_plugin_info)) + "-byte alignment; " + rebuild_hint());
  std::vector<const medadv_plugin_info*> entries;
  const auto* base = reinterpret_cast<const unsigned char*>(d.plugins);
  for (std::uint32_t i = 0; i < d.plugin_count; ++i) {
    const auto* entry = reinterpret_cast<const medadv_plugin_info*>(base + std::size_t{i} * stride);
    if (entry->struct_size != stride)
      refuse(file, "plugin #" + std::to_string(i) + " has a descriptor of " + std::to_string(entry->struct_size) +
                       " bytes where plugin #0 has " + std::to_string(stride) +
                       "; every entry of a library has one layout; " + rebuild_hint());
    check_plugin_info(file, *entry, i);
    entries.push_back(entry);
  }
  return entries;
}

}  // namespace

std::shared_ptr<PluginLibrary> PluginLibrary::open(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) refuse(file, "no such file");
  if (!std::filesystem::is_regular_file(file, ec)) refuse(file, "not a regular file");

  // 1. Inspect without loading: is it a shared object, and which entry does it export?
  try {
    boost::dll::library_info info(boost::dll::fs::path(file.string()));
    (void)info;
  } catch (const std::exception& e) {
    refuse(file, std::string("not a shared library (") + e.what() + ")");
  }
  std::vector<std::string> symbols;
  try {
    symbols = exported_dynamic_symbols(file);
  } catch (const InvalidInput& e) {
    refuse(file, std::string("not a loadable shared library: ") + e.what());
  }
  bool has_entry = false;
  std::vector<std::string> other_generations;
  for (const auto& s : symbols) {
    if (s == MEDADV_ENTRY_SYMBOL_STRING) has_entry = true;
    else if (s.rfind(MEDADV_ENTRY_PREFIX, 0) == 0) other_generations.push_back(s);
  }
  if (!has_entry && !other_generations.empty()) {
    const std::string found = other_generations.front();
    refuse(file, "built for medadv plugin ABI " + found.substr(std::strlen(MEDADV_ENTRY_PREFIX)) + " (exports " +
                     found + "); this medadv " + host_abi().sdk_version + " loads ABI " +
                     std::to_string(host_abi().abi_major) + " (" MEDADV_ENTRY_SYMBOL_STRING "); " + rebuild_hint());
  }
  if (!has_entry)
    throw NotAPluginLibrary(file.string() +
                            ": a shared library, but not a medadv plugin: it exports no " MEDADV_ENTRY_SYMBOL_STRING
                            " entry symbol (a plugin declares its plugins with MEDADV_PLUGINS(...) from "
                            "<medadv/plugin.h>)");

  auto library = std::shared_ptr<PluginLibrary>(new PluginLibrary());
  library->path_ = std::filesystem::absolute(file).lexically_normal();
  library->sha256_ = sha256_file(file);

  // 2. Load locally, then read and check the descriptor before calling anything else.
  boost::dll::shared_library loaded;
  try {
    loaded.load(boost::dll::fs::path(library->path_.string()),
                boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now);
  } catch (const std::exception& e) {
    refuse(file, std::string("cannot be loaded: ") + e.what());
  }
  auto entry = loaded.get<const medadv_library_descriptor*()>(MEDADV_ENTRY_SYMBOL_STRING);
  const medadv_library_descriptor* d = entry();
  keep_loaded().push_back(loaded);
  if (!d) refuse(file, MEDADV_ENTRY_SYMBOL_STRING "() returned no descriptor");

  const HostAbi& host = host_abi();
  if (d->abi_major != host.abi_major)
    refuse(file, "descriptor declares plugin ABI " + version_text(d->abi_major, d->abi_minor) + ", expected " +
                     version_text(host.abi_major, host.abi_minor) + "; " + rebuild_hint());
  if (d->struct_size < kDescriptorSize10)
    refuse(file, "descriptor is " + std::to_string(d->struct_size) + " bytes, expected at least " +
                     std::to_string(kDescriptorSize10) + " (the ABI 1.0 layout); " + rebuild_hint());
  if (d->torch_major != host.torch_major || d->torch_minor != host.torch_minor)
    refuse(file, "compiled against LibTorch " + version_text(d->torch_major, d->torch_minor) +
                     ", but this medadv uses LibTorch " + version_text(host.torch_major, host.torch_minor) +
                     "; tensors can only cross between modules built against the same LibTorch: " + rebuild_hint());
  const std::string tag = d->cxx_abi_tag ? d->cxx_abi_tag : "(none)";
  if (tag != host.cxx_abi_tag)
    refuse(file, "C++ ABI tag is '" + tag + "', expected '" + host.cxx_abi_tag + "' (compiler: " +
                     (d->compiler ? d->compiler : "?") + "); build it with the same standard library and " +
                     "_GLIBCXX_USE_CXX11_ABI as LibTorch: " + rebuild_hint());
  if (!d->sdk_version) refuse(file, "descriptor has no SDK version");
  if (!sdk_compatible(d->sdk_version, host.sdk_version))
    refuse(file, "built against medadv SDK " + std::string(d->sdk_version) + ", but this medadv is SDK " +
                     host.sdk_version + "; before 1.0 every minor version may change the SDK's C++ types (Params, "
                     "the kind interfaces), which a plugin built against another would misread: " + rebuild_hint());
  if (d->plugin_count == 0 || !d->plugins) refuse(file, "descriptor lists no plugins");
  library->entries_ = plugin_entries(file, *d);
  library->descriptor_ = d;
  return library;
}

std::vector<PluginHandle> PluginLibrary::plugins() const {
  std::vector<PluginHandle> handles;
  for (const medadv_plugin_info* entry : entries_) handles.emplace_back(shared_from_this(), entry);
  return handles;
}

// -------------------------------------------------------------- PluginHandle

PluginHandle::PluginHandle(std::shared_ptr<const PluginLibrary> library, const medadv_plugin_info* info)
    : library_(std::move(library)), info_(info) {}

std::string PluginHandle::describe() const {
  return std::string(kind_text()) + " '" + name() + "' (" + library_->path().filename().string() + ")";
}

const ParamSchema& PluginHandle::schema() const {
  if (!schema_) {
    auto schema = std::make_shared<ParamSchema>();
    guarded(describe(), "describe", [&] { info_->describe(schema.get()); });
    schema_ = std::move(schema);
  }
  return *schema_;
}

void* PluginHandle::create_raw(const Params& params, RunContext& ctx) const {
  void* made = guarded(describe(), "create", [&] { return info_->create(&params, &ctx); });
  if (!made) throw PluginFailure(describe() + " failed in create(): it returned no object");
  return made;
}

}  // namespace medadv::host
