#pragma once
// Writing a plugin library: one class per plugin, one MEDADV_PLUGINS(...) line.
//
//   class MyAttack : public medadv::Attack {
//    public:
//     static void schema(medadv::ParamSchema& s) { s.add_epsilon("epsilon", "8/255", "..."); }
//     MyAttack(const medadv::Params& p, medadv::RunContext& ctx);
//     medadv::AttackResult run(...) override;
//   };
//   MEDADV_PLUGINS(medadv::attack<MyAttack>("my-attack", "1.0.0", "What it does",
//                                           medadv::ThreatModel::WhiteBox))
//
// The macro writes the library's only export, the versioned extern "C" entry symbol,
// and its C descriptor (abi.h).
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "medadv/abi.h"
#include "medadv/attack.h"
#include "medadv/attack_term.h"
#include "medadv/build_info.h"
#include "medadv/capabilities.h"
#include "medadv/context.h"
#include "medadv/dataset.h"
#include "medadv/defense.h"
#include "medadv/detector.h"
#include "medadv/export.h"
#include "medadv/kind.h"
#include "medadv/model.h"
#include "medadv/params.h"
#include "medadv/version.h"

namespace medadv {



namespace detail {

template <class Interface, class Impl>
void describe(void* schema) {
  Impl::schema(*static_cast<ParamSchema*>(schema));
}

template <class Interface, class Impl>
void* create(const void* params, void* context) {
  static_assert(std::is_base_of_v<Interface, Impl>, "plugin class must derive from its kind's interface");
  Interface* made = new Impl(*static_cast<const Params*>(params), *static_cast<RunContext*>(context));
  return static_cast<void*>(made);
}

template <class Interface>
void destroy(void* instance) {
  delete static_cast<Interface*>(instance);
}

template <class Interface, class Impl>
constexpr medadv_plugin_info info(Kind kind, const char* name, const char* version, const char* summary,
                                  ThreatModel threat) {
  return medadv_plugin_info{sizeof(medadv_plugin_info),
                            static_cast<std::uint32_t>(kind),
                            name,
                            version,
                            summary,
                            static_cast<std::uint32_t>(threat),
                            &describe<Interface, Impl>,
                            &create<Interface, Impl>,
                            &destroy<Interface>};
}

}  // namespace detail

template <class T>
constexpr medadv_plugin_info attack(const char* name, const char* version, const char* summary,
                                    ThreatModel threat) {
  return detail::info<Attack, T>(Kind::Attack, name, version, summary, threat);
}
template <class T>
constexpr medadv_plugin_info attack_term(const char* name, const char* version, const char* summary) {
  return detail::info<AttackTerm, T>(Kind::AttackTerm, name, version, summary, ThreatModel::None);
}
template <class T>
constexpr medadv_plugin_info preprocessor(const char* name, const char* version, const char* summary) {
  return detail::info<Preprocessor, T>(Kind::Preprocessor, name, version, summary, ThreatModel::None);
}
template <class T>
constexpr medadv_plugin_info trainer(const char* name, const char* version, const char* summary) {
  return detail::info<Trainer, T>(Kind::Trainer, name, version, summary, ThreatModel::None);
}
template <class T>
constexpr medadv_plugin_info wrapper(const char* name, const char* version, const char* summary) {
  return detail::info<Wrapper, T>(Kind::Wrapper, name, version, summary, ThreatModel::None);
}
template <class T>
constexpr medadv_plugin_info detector(const char* name, const char* version, const char* summary) {
  return detail::info<Detector, T>(Kind::Detector, name, version, summary, ThreatModel::None);
}
template <class T>
constexpr medadv_plugin_info dataset(const char* name, const char* version, const char* summary) {
  return detail::info<Dataset, T>(Kind::Dataset, name, version, summary, ThreatModel::None);
}
template <class T>
constexpr medadv_plugin_info model(const char* name, const char* version, const char* summary) {
  return detail::info<ModelPlugin, T>(Kind::Model, name, version, summary, ThreatModel::None);
}

}  // namespace medadv

// The library's entry symbol and descriptor. Use exactly once per library.
#define MEDADV_PLUGINS(...)                                                                      \
  extern "C" __attribute__((visibility("default"))) const medadv_library_descriptor*             \
  MEDADV_ENTRY_SYMBOL(void) noexcept {                                                           \
    static const medadv_plugin_info medadv_plugins_[] = {__VA_ARGS__};                          \
    static const medadv_library_descriptor medadv_descriptor_ = {                                \
        MEDADV_ABI_MAJOR,                                                                        \
        MEDADV_ABI_MINOR,                                                                        \
        sizeof(medadv_library_descriptor),                                                       \
        MEDADV_VERSION,                                                                          \
        MEDADV_TORCH_MAJOR,                                                                      \
        MEDADV_TORCH_MINOR,                                                                      \
        MEDADV_CXX_ABI_TAG,                                                                      \
        MEDADV_COMPILER_ID,                                                                      \
        static_cast<uint32_t>(sizeof(medadv_plugins_) / sizeof(medadv_plugins_[0])),             \
        medadv_plugins_};                                                                        \
    return &medadv_descriptor_;                                                                  \
  }
