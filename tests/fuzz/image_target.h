#pragma once
// One image decoder under the fuzzer: inputs that do not start with the format's
// signature are left to the other target, so each keeps to its own decoder.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "medadv/error.h"
#include "medadv/image_io.h"

namespace medadv::fuzz {

inline int decode_image_input(const std::uint8_t* data, std::size_t size, const std::uint8_t* signature,
                              std::size_t signature_size) {
  if (size < signature_size || !std::equal(signature, signature + signature_size, data)) return -1;
  // The three channel conversions read_image offers (as stored, gray, RGB).
  for (int channels : {0, 1, 3}) {
    try {
      (void)medadv::decode_image(data, size, channels, "fuzz input").sum();
    } catch (const medadv::Error&) {
      return 0;  // refused: the other conversions would refuse it the same way
    }
  }
  return 0;
}

}  // namespace medadv::fuzz
