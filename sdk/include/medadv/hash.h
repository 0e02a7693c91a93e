#pragma once
// Stable, platform-independent hashes for cache keys and seed derivation. Not
// cryptographic: whoever keys a cache with them also stores the key text and compares it.
#include <cstdint>
#include <string>
#include <string_view>

#include "medadv/export.h"

namespace medadv {

// 64-bit FNV-1a of the bytes.
MEDADV_API std::uint64_t fnv1a64(std::string_view bytes);

// The bytes as lowercase hex, two digits a byte, e.g. for digests in file names and keys.
MEDADV_API std::string hex_encode(std::string_view bytes);

// fnv1a64 as 16 lowercase hex digits, e.g. for file names.
MEDADV_API std::string stable_hash(std::string_view bytes);

}  // namespace medadv
