#include "medadv/hash.h"

namespace medadv {

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string hex_encode(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (unsigned char b : bytes) {
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  return hex;
}

std::string stable_hash(std::string_view bytes) {
  // Most significant byte first, so the digits read as the number.
  std::uint64_t h = fnv1a64(bytes);
  char big_endian[8];
  for (int k = 7; k >= 0; --k, h >>= 8) big_endian[k] = static_cast<char>(h & 0xff);
  return hex_encode(std::string_view(big_endian, sizeof big_endian));
}

}  // namespace medadv
