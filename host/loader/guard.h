#pragma once
// The one guard around every call from the host into a plugin: any exception becomes
// a medadv error that names the plugin, its kind and the method.
#include <c10/util/Exception.h>

#include <string>
#include <utility>

#include "medadv/error.h"

namespace medadv::host {

// A plugin failed while running (exit status 1 unless the command says otherwise).
class PluginFailure : public Error { public: using Error::Error; };

// A plugin rejected its input (its own InvalidInput): exit status 2.
class PluginRejectedInput : public InvalidInput { public: using InvalidInput::InvalidInput; };

template <class F>
auto guarded(const std::string& who, const char* method, F&& f) -> decltype(f()) {
  const auto prefix = [&] { return who + " failed in " + method + "(): "; };
  try {
    return std::forward<F>(f)();
  } catch (const InvalidInput& e) {
    throw PluginRejectedInput(prefix() + e.what());
  } catch (const c10::Error& e) {
    throw PluginFailure(prefix() + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw PluginFailure(prefix() + e.what());
  } catch (...) {
    throw PluginFailure(prefix() + "an exception that is not a std::exception");
  }
}

}  // namespace medadv::host
