// The JPEG decoder (medadv::decode_image, SOI marker) on arbitrary bytes: data sets of
// user files go through it, so a damaged file must give InvalidInput, never a crash.
#include "image_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::uint8_t kSignature[] = {0xff, 0xd8};
  return medadv::fuzz::decode_image_input(data, size, kSignature, sizeof kSignature);
}
