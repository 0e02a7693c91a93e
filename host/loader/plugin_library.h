#pragma once
// One plugin library: inspected before loading, loaded RTLD_LOCAL, its descriptor
// checked, then its plugins made available. Libraries stay loaded until exit.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "medadv/abi.h"
#include "medadv/error.h"
#include "medadv/kind.h"
#include "medadv/params.h"

namespace medadv {
class RunContext;
}

namespace medadv::host {

class PluginLibrary;

// A library that is not a (valid) plugin library: exit status 2.
class LibraryError : public InvalidInput { public: using InvalidInput::InvalidInput; };

// A library that exports no medadv entry symbol at all (may be a helper library that
// sits in a plugin directory).
class NotAPluginLibrary : public LibraryError { public: using LibraryError::LibraryError; };

// One plugin of a loaded library.
class PluginHandle {
 public:
  PluginHandle(std::shared_ptr<const PluginLibrary> library, const medadv_plugin_info* info);

  Kind kind() const { return static_cast<Kind>(info_->kind); }
  const char* kind_text() const { return kind_name(info_->kind); }
  std::string name() const { return info_->name; }
  std::string version() const { return info_->version; }
  std::string summary() const { return info_->summary ? info_->summary : ""; }
  ThreatModel threat_model() const { return static_cast<ThreatModel>(info_->threat_model); }
  const PluginLibrary& library() const { return *library_; }
  // "attack 'pgd' (libmedadv_gradient.so)"
  std::string describe() const;

  // The parameter schema (computed once, through the guard).
  const ParamSchema& schema() const;
  // Creates an instance of the kind's interface; destroyed through the plugin. The
  // instance owns `ctx` until it is destroyed: the SDK lets a plugin keep the context it
  // was created with (and its logger) for its whole life.
  template <class Interface>
  std::shared_ptr<Interface> create(const Params& params, std::shared_ptr<RunContext> ctx) const {
    auto* made = static_cast<Interface*>(create_raw(params, *ctx));
    return std::shared_ptr<Interface>(made, [info = info_, ctx = std::move(ctx)](Interface* p) { info->destroy(p); });
  }

 private:
  void* create_raw(const Params& params, RunContext& ctx) const;
  std::shared_ptr<const PluginLibrary> library_;
  const medadv_plugin_info* info_;
  mutable std::shared_ptr<ParamSchema> schema_;
};

class PluginLibrary : public std::enable_shared_from_this<PluginLibrary> {
 public:
  // Inspects, loads and validates; throws LibraryError (or NotAPluginLibrary) with a
  // message naming the file, what was expected and found, and how to fix it.
  static std::shared_ptr<PluginLibrary> open(const std::filesystem::path& file);

  const std::filesystem::path& path() const { return path_; }
  const std::string& sha256() const { return sha256_; }
  const medadv_library_descriptor& descriptor() const { return *descriptor_; }
  std::vector<PluginHandle> plugins() const;

 private:
  PluginLibrary() = default;
  std::filesystem::path path_;
  std::string sha256_;
  void* handle_ = nullptr;  // never closed: objects made by the library may outlive us
  const medadv_library_descriptor* descriptor_ = nullptr;
  // descriptor_->plugins stepped by the library's own struct_size (a newer minor's
  // entries are larger than this host's medadv_plugin_info).
  std::vector<const medadv_plugin_info*> entries_;
};

// What this host expects of every library.
struct HostAbi {
  std::uint32_t abi_major, abi_minor;
  std::uint32_t torch_major, torch_minor;
  std::string cxx_abi_tag;
  std::string sdk_version;
};
const HostAbi& host_abi();

// "cmake -S <plugin source> -B build -DCMAKE_PREFIX_PATH=<this medadv's prefix> ..."
std::string rebuild_hint();

}  // namespace medadv::host
