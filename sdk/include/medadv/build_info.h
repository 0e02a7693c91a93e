#pragma once
// What a module was compiled with: the values a plugin descriptor records and the
// loader compares against its own. Evaluated in the including module, so a plugin
// reports its own compiler and flags, not the SDK's.
#include <torch/version.h>

#include "medadv/abi.h"

#if defined(_LIBCPP_VERSION)
#define MEDADV_STDLIB_ "libc++"
#define MEDADV_CXX11_ABI_ "1"
#elif defined(__GLIBCXX__)
#define MEDADV_STDLIB_ "libstdc++"
#if _GLIBCXX_USE_CXX11_ABI
#define MEDADV_CXX11_ABI_ "1"
#else
#define MEDADV_CXX11_ABI_ "0"
#endif
#else
#define MEDADV_STDLIB_ "unknown"
#define MEDADV_CXX11_ABI_ "?"
#endif

// Checked by the loader: what decides whether std::string and friends match.
#define MEDADV_CXX_ABI_TAG MEDADV_STDLIB_ ";cxx11abi=" MEDADV_CXX11_ABI_

#if defined(__clang__)
#define MEDADV_COMPILER_ID "clang " __clang_version__
#elif defined(__GNUC__)
#define MEDADV_COMPILER_ID "gcc " __VERSION__
#else
#define MEDADV_COMPILER_ID "unknown"
#endif

#define MEDADV_TORCH_MAJOR TORCH_VERSION_MAJOR
#define MEDADV_TORCH_MINOR TORCH_VERSION_MINOR
