#pragma once
// Reading and writing image files: PNG (8 and 16 bit) and JPEG in, PNG out, and the one
// resize every dataset uses. Images are float32 [C,H,W] in [0,1] on the CPU.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "medadv/export.h"

namespace medadv {

// Decodes a PNG (gray, gray+alpha, RGB, RGBA, palette; 1 to 16 bits, alpha dropped) or
// a JPEG (gray, RGB; CMYK is refused), recognised by its first bytes, never by its name.
// 8-bit samples map to value/255, 16-bit ones to value/65535.
// channels: 0 = as stored (1 or 3), 1 = gray (ITU-R BT.601 luma of RGB), 3 = RGB (gray
// replicated). Any failure throws InvalidInput naming the file and the reason.
MEDADV_API torch::Tensor read_image(const std::filesystem::path& file, int channels = 0);

// The same from bytes in memory; `source` names them in errors.
MEDADV_API torch::Tensor decode_image(const std::uint8_t* data, std::size_t size, int channels = 0,
                                      const std::string& source = "image in memory");

// An image [C,H,W] or batch [N,C,H,W] (C = 1 or 3) with `channels` channels: 1 = gray
// (ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B, on the stored values), 3 = RGB (gray
// replicated), 0 or the present count = unchanged. The conversion read_image applies.
MEDADV_API torch::Tensor convert_channels(const torch::Tensor& image, int channels);

// Encodes [C,H,W] (C = 1 or 3) or [H,W] as PNG. Floating images are taken in [0,1]
// (clamped, then rounded to the nearest level); uint8 images are written as they are.
// bit_depth 8 or 16. Throws InvalidInput for other shapes or non-finite values.
MEDADV_API std::vector<std::uint8_t> encode_png(const torch::Tensor& image, int bit_depth = 8);

// encode_png written by write_file_atomically (medadv/atomic_file.h), so readers never see
// a half-written image. The parent directory must exist. Errors name the file.
MEDADV_API void write_png(const std::filesystem::path& file, const torch::Tensor& image, int bit_depth = 8);

// Resizes [C,H,W] (or a batch [N,C,H,W]) to size x size: antialiased bilinear along an
// axis that shrinks (every input pixel contributes, as in PIL and torchvision), plain
// bilinear along one that grows. Returns the input itself when it is already that size.
MEDADV_API torch::Tensor resize_image(const torch::Tensor& chw, std::int64_t size);

}  // namespace medadv
