#include "medadv/image_io.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include "image_codecs.h"
#include "medadv/atomic_file.h"
#include "medadv/error.h"

namespace medadv {

namespace {

namespace F = torch::nn::functional;

bool starts_with(const std::uint8_t* data, std::size_t size, const char* magic, std::size_t n, std::size_t at = 0) {
  return size >= at + n && std::memcmp(data + at, magic, n) == 0;
}

bool is_png(const std::uint8_t* data, std::size_t size) { return starts_with(data, size, "\x89PNG\r\n\x1a\n", 8); }
bool is_jpeg(const std::uint8_t* data, std::size_t size) { return starts_with(data, size, "\xff\xd8\xff", 3); }

// Enough of a file's start to recognise every format unsupported_format names (DICOM's
// "DICM" sits at byte 128).
constexpr std::size_t kSignatureBytes = 132;

// Larger image files are refused unread: the largest image the codecs accept
// (codec::kMaxPixels of 16-bit RGB) is 192 MiB of samples, and compression does not
// grow it fivefold.
constexpr std::uintmax_t kMaxImageFileBytes = std::uintmax_t{1} << 30;

// What a file that is neither PNG nor JPEG looks like, to say so in the error.
std::string unsupported_format(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return "the file is empty";
  const char* kind = nullptr;
  if (starts_with(data, size, "DICM", 4, 128)) kind = "a DICOM file";
  else if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4)) kind = "a TIFF image";
  else if (starts_with(data, size, "BM", 2)) kind = "a BMP image";
  else if (starts_with(data, size, "GIF8", 4)) kind = "a GIF image";
  else if (starts_with(data, size, "\x93NUMPY", 6)) kind = "a NumPy .npy array";
  else if (starts_with(data, size, "PK\x03\x04", 4)) kind = "a zip archive (.npz?)";
  const std::string supported = "only PNG and JPEG images are read (recognised by their first bytes)";
  return kind ? std::string("it is ") + kind + "; " + supported : "unrecognised format: " + supported;
}

// [H,W,C] samples -> float32 [C,H,W] in [0,1].
torch::Tensor to_tensor(codec::RawImage& raw) {
  const auto H = static_cast<std::int64_t>(raw.height), W = static_cast<std::int64_t>(raw.width);
  const auto C = static_cast<std::int64_t>(raw.channels);
  torch::Tensor hwc;
  if (raw.bit_depth == 8) {
    hwc = torch::from_blob(raw.samples.data(), {H, W, C}, torch::kUInt8).to(torch::kFloat32).div_(255.0);
  } else {
    // Straight to float: an int32 copy of the byte pairs would take four times the samples.
    auto bytes = torch::from_blob(raw.samples.data(), {H, W, C, 2}, torch::kUInt8);
    hwc = bytes.select(3, 0).to(torch::kFloat32).mul_(256.0).add_(bytes.select(3, 1).to(torch::kFloat32)).div_(65535.0);
  }
  return hwc.permute({2, 0, 1}).contiguous();
}

void check_channels_argument(int channels, const std::string& source) {
  if (channels != 0 && channels != 1 && channels != 3) {
    throw InvalidInput("reading " + source + ": channels must be 0 (as stored), 1 or 3, got " +
                       std::to_string(channels));
  }
}

}  // namespace

torch::Tensor convert_channels(const torch::Tensor& image, int channels) {
  const bool batch = image.dim() == 4;
  if ((image.dim() != 3 && !batch) || (channels != 0 && channels != 1 && channels != 3)) {
    throw InvalidInput("convert_channels: expected an image [C,H,W] or batch [N,C,H,W] and channels 0, 1 or 3, got " +
                       std::string(c10::str(image.sizes())) + " and " + std::to_string(channels));
  }
  const auto dim = batch ? 1 : 0;
  const auto stored = image.size(dim);
  if (stored != 1 && stored != 3) {
    throw InvalidInput("convert_channels: images have 1 or 3 channels, got " + std::string(c10::str(image.sizes())));
  }
  if (channels == 0 || channels == stored) return image;
  if (channels == 3) {
    auto sizes = image.sizes().vec();
    sizes[static_cast<std::size_t>(dim)] = 3;
    return image.expand(sizes).contiguous();
  }
  // ITU-R BT.601 luma, on the stored (gamma-encoded) values as image libraries do.
  return 0.299 * image.narrow(dim, 0, 1) + 0.587 * image.narrow(dim, 1, 1) + 0.114 * image.narrow(dim, 2, 1);
}

torch::Tensor decode_image(const std::uint8_t* data, std::size_t size, int channels, const std::string& source) {
  check_channels_argument(channels, source);
  codec::RawImage raw;
  std::string failure;
  const char* format = nullptr;
  if (is_png(data, size)) {
    format = "PNG";
    failure = codec::decode_png(data, size, raw);
  } else if (is_jpeg(data, size)) {
    format = "JPEG";
    failure = codec::decode_jpeg(data, size, raw);
  } else {
    throw InvalidInput("cannot read image " + source + ": " + unsupported_format(data, size));
  }
  if (!failure.empty()) throw InvalidInput("cannot read image " + source + ": invalid " + format + ": " + failure);
  return convert_channels(to_tensor(raw), channels);
}

torch::Tensor read_image(const std::filesystem::path& file, int channels) {
  const std::string name = "'" + file.string() + "'";
  check_channels_argument(channels, name);
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw InvalidInput("cannot read image " + name + ": it is a directory");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const bool exists = std::filesystem::exists(file, ec);
    throw InvalidInput("cannot read image " + name + ": " + (exists ? "the file cannot be opened" : "no such file"));
  }
  // The first bytes say whether it is an image at all, before the rest is read.
  std::vector<std::uint8_t> bytes(kSignatureBytes);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  if (!is_png(bytes.data(), bytes.size()) && !is_jpeg(bytes.data(), bytes.size()))
    throw InvalidInput("cannot read image " + name + ": " + unsupported_format(bytes.data(), bytes.size()));
  const auto file_size = std::filesystem::file_size(file, ec);
  if (!ec && file_size > kMaxImageFileBytes)
    throw InvalidInput("cannot read image " + name + ": " + std::to_string(file_size) + " bytes, more than the " +
                       std::to_string(kMaxImageFileBytes >> 20) + " MiB an image file may have");
  bytes.insert(bytes.end(), std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) throw InvalidInput("cannot read image " + name + ": read error");
  return decode_image(bytes.data(), bytes.size(), channels, name);
}

std::vector<std::uint8_t> encode_png(const torch::Tensor& image, int bit_depth) {
  if (bit_depth != 8 && bit_depth != 16) {
    throw InvalidInput("encode_png: bit_depth must be 8 or 16, got " + std::to_string(bit_depth));
  }
  if (!image.defined()) throw InvalidInput("encode_png: the image tensor is undefined");
  auto chw = image.dim() == 2 ? image.unsqueeze(0) : image;
  if (chw.dim() != 3 || (chw.size(0) != 1 && chw.size(0) != 3) || chw.size(1) == 0 || chw.size(2) == 0) {
    throw InvalidInput("encode_png: expected an image [C,H,W] with C = 1 or 3, or [H,W], got " +
                       std::string(c10::str(image.sizes())));
  }
  chw = chw.detach().to(torch::kCPU);
  const double top = bit_depth == 8 ? 255.0 : 65535.0;
  torch::Tensor levels;  // int32 [H,W,C]
  if (chw.is_floating_point()) {
    if (!torch::isfinite(chw).all().item<bool>()) throw InvalidInput("encode_png: the image holds NaN or infinite values");
    levels = chw.to(torch::kFloat64).clamp(0.0, 1.0).mul(top).round().to(torch::kInt32);
  } else if (chw.scalar_type() == torch::kUInt8 && bit_depth == 8) {
    levels = chw.to(torch::kInt32);
  } else {
    throw InvalidInput("encode_png: expected a floating image in [0,1] (or uint8 for 8 bits), got " +
                       std::string(c10::toString(chw.scalar_type())));
  }
  levels = levels.permute({1, 2, 0}).contiguous();

  codec::RawImage raw;
  raw.height = static_cast<std::uint32_t>(chw.size(1));
  raw.width = static_cast<std::uint32_t>(chw.size(2));
  raw.channels = static_cast<int>(chw.size(0));
  raw.bit_depth = bit_depth;
  torch::Tensor bytes = bit_depth == 8 ? levels.to(torch::kUInt8)
                                       : torch::stack({levels.div(256, "floor"), levels.remainder(256)}, -1).to(torch::kUInt8);
  bytes = bytes.contiguous();
  const auto* p = bytes.data_ptr<std::uint8_t>();
  raw.samples.assign(p, p + bytes.numel());
  std::vector<std::uint8_t> out;
  const std::string failure = codec::encode_png(raw, out);
  if (!failure.empty()) throw Error("encode_png: " + failure);
  return out;
}

void write_png(const std::filesystem::path& file, const torch::Tensor& image, int bit_depth) {
  const auto bytes = encode_png(image, bit_depth);
  try {
    write_file_atomically(file, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const Error& e) {
    throw Error("cannot write image '" + file.string() + "': " + e.what());
  }
}

torch::Tensor resize_image(const torch::Tensor& chw, std::int64_t size) {
  if (size < 1) throw InvalidInput("resize_image: size must be at least 1, got " + std::to_string(size));
  if ((chw.dim() != 3 && chw.dim() != 4) || !chw.is_floating_point()) {
    throw InvalidInput("resize_image: expected a floating image [C,H,W] or batch [N,C,H,W], got " +
                       std::string(c10::str(chw.sizes())) + " " + std::string(c10::toString(chw.scalar_type())));
  }
  const auto H = chw.size(-2), W = chw.size(-1);
  if (H == size && W == size) return chw;
  auto batch = chw.dim() == 3 ? chw.unsqueeze(0) : chw;
  // Antialiasing changes nothing along a growing axis, so one call covers mixed cases.
  auto out = F::interpolate(batch, F::InterpolateFuncOptions()
                                       .size(std::vector<std::int64_t>{size, size})
                                       .mode(torch::kBilinear)
                                       .align_corners(false)
                                       .antialias(H > size || W > size));
  return chw.dim() == 3 ? out.squeeze(0) : out;
}

}  // namespace medadv
