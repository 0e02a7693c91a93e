#pragma once
// The C codecs (libpng, libjpeg) behind medadv/image_io.h, kept apart from LibTorch.
// libpng and libjpeg report errors by longjmp; each codec function confines its setjmp
// to a frame holding only plain C data, so no C++ destructor is ever jumped over, and
// turns every failure into a reason string for the caller to throw.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace medadv::codec {

// Bounds checked against a file's header before anything is allocated for its pixels: a
// corrupt or hostile header could otherwise ask for gigabytes. 2^25 pixels (5792^2, a
// mammogram's 4096x5120 fits) is 192 MiB of 16-bit RGB samples, about 1 GiB at peak
// once converted to float.
inline constexpr std::uint32_t kMaxSide = 16384;
inline constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 25;

// Whether a width x height image is within the bounds; if not, `reason` (a buffer of
// `size` bytes) says why. Plain C data only: it is called between setjmp and longjmp.
bool dimensions_allowed(std::uint64_t width, std::uint64_t height, char* reason, std::size_t size);

// Decoded samples, interleaved row-major [height][width][channels]. For bit_depth 16
// each sample is two bytes, most significant first (PNG's order).
struct RawImage {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  int channels = 0;   // 1 (gray) or 3 (RGB): alpha is dropped, palettes expanded
  int bit_depth = 8;  // 8 or 16
  std::vector<std::uint8_t> samples;
};

// Each returns "" on success, else why the data could not be decoded or encoded.
std::string decode_png(const std::uint8_t* data, std::size_t size, RawImage& out);
std::string decode_jpeg(const std::uint8_t* data, std::size_t size, RawImage& out);
std::string encode_png(const RawImage& image, std::vector<std::uint8_t>& out);

}  // namespace medadv::codec
