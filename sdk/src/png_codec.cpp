// PNG through libpng's full API. The setjmp frame (run_libpng) and the bodies it runs
// hold only plain C data; all state that changes after setjmp lives behind a pointer
// (PngState), so it survives the longjmp, and buffers are malloc'd so cleanup after an
// error is a few free() calls.
#include <png.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "image_codecs.h"

namespace medadv::codec {

namespace {

struct PngState {
  // Reading: the input. Writing: the growing output buffer.
  const unsigned char* input;
  std::size_t input_size;
  std::size_t input_pos;
  unsigned char* output;
  std::size_t output_size;
  std::size_t output_capacity;
  // Decoded samples and their row pointers (malloc'd).
  unsigned char* pixels;
  png_bytep* rows;
  png_uint_32 width, height;
  int channels, bit_depth;
  char message[256];
};

void on_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // benign (e.g. an unknown iCCP profile)

void read_from_memory(png_structp png, png_bytep out, std::size_t n) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > state->input_size - state->input_pos) png_error(png, "file is truncated");
  std::memcpy(out, state->input + state->input_pos, n);
  state->input_pos += n;
}

void write_to_memory(png_structp png, png_bytep data, std::size_t n) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  if (state->output_size + n > state->output_capacity) {
    std::size_t capacity = state->output_capacity ? state->output_capacity : 4096;
    while (capacity < state->output_size + n) capacity *= 2;
    auto* grown = static_cast<unsigned char*>(std::realloc(state->output, capacity));
    if (!grown) png_error(png, "out of memory");
    state->output = grown;
    state->output_capacity = capacity;
  }
  std::memcpy(state->output + state->output_size, data, n);
  state->output_size += n;
}

void flush_nothing(png_structp) {}

enum class Direction { Read, Write };

void destroy(Direction direction, png_structp* png, png_infop* info) {
  if (direction == Direction::Read)
    png_destroy_read_struct(png, info, nullptr);
  else
    png_destroy_write_struct(png, info);
}

// Runs `body` on fresh libpng structs for reading or writing, under libpng's error
// handling, and destroys the structs after. Returns what body returns, or false with
// state->message set when libpng could not start or raised an error.
bool run_libpng(PngState* state, Direction direction, bool (*body)(png_structp, png_infop, PngState*)) {
  png_structp png = direction == Direction::Read
                        ? png_create_read_struct(PNG_LIBPNG_VER_STRING, state, on_error, on_warning)
                        : png_create_write_struct(PNG_LIBPNG_VER_STRING, state, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    destroy(direction, &png, &info);  // a null struct is skipped
    std::snprintf(state->message, sizeof state->message, "libpng could not be initialised");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    destroy(direction, &png, &info);
    return false;
  }
  const bool ok = body(png, info, state);
  destroy(direction, &png, &info);
  return ok;
}

// Run by run_libpng. Returns false with state->message set on failure;
// state->pixels/rows are the caller's to free either way.
bool decode_body(png_structp png, png_infop info, PngState* state) {
  png_set_read_fn(png, state, read_from_memory);
  png_set_user_limits(png, kMaxSide, kMaxSide);
  png_set_chunk_malloc_max(png, 8u << 20);  // text and profile chunks: a compressed one may inflate to gigabytes
  png_read_info(png, info);
  char too_large[160];
  if (!dimensions_allowed(png_get_image_width(png, info), png_get_image_height(png, info), too_large, sizeof too_large))
    png_error(png, too_large);

  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  // A tRNS chunk (transparency without an alpha channel) is ignored: it is not expanded.
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  state->width = png_get_image_width(png, info);
  state->height = png_get_image_height(png, info);
  state->channels = png_get_channels(png, info);
  state->bit_depth = png_get_bit_depth(png, info);
  if ((state->channels != 1 && state->channels != 3) || (state->bit_depth != 8 && state->bit_depth != 16)) {
    std::snprintf(state->message, sizeof state->message, "unexpected sample layout after conversion (%d channels, %d bits)",
                  state->channels, state->bit_depth);
    return false;
  }
  const std::size_t row_bytes = png_get_rowbytes(png, info);
  state->pixels = static_cast<unsigned char*>(std::malloc(row_bytes * state->height));
  state->rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * state->height));
  if (!state->pixels || !state->rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < state->height; ++y) state->rows[y] = state->pixels + row_bytes * y;
  png_read_image(png, state->rows);
  png_read_end(png, nullptr);  // checks the chunks after the image data, up to IEND
  return true;
}

// Run by run_libpng.
bool encode_body(png_structp png, png_infop info, PngState* state) {
  png_set_write_fn(png, state, write_to_memory, flush_nothing);
  png_set_IHDR(png, info, state->width, state->height, state->bit_depth,
               state->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, state->rows);
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

bool dimensions_allowed(std::uint64_t width, std::uint64_t height, char* reason, std::size_t size) {
  if (width <= kMaxSide && height <= kMaxSide && width * height <= kMaxPixels) return true;
  std::snprintf(reason, size, "image of %llux%llu pixels exceeds the limit of %u per side and %llu pixels",
                static_cast<unsigned long long>(width), static_cast<unsigned long long>(height), kMaxSide,
                static_cast<unsigned long long>(kMaxPixels));
  return false;
}

std::string decode_png(const std::uint8_t* data, std::size_t size, RawImage& out) {
  PngState state{};
  state.input = data;
  state.input_size = size;
  const bool ok = run_libpng(&state, Direction::Read, decode_body);
  if (ok) {
    out.width = state.width;
    out.height = state.height;
    out.channels = state.channels;
    out.bit_depth = state.bit_depth;
    const std::size_t bytes = std::size_t{state.width} * state.height * static_cast<std::size_t>(state.channels) *
                              static_cast<std::size_t>(state.bit_depth / 8);
    out.samples.assign(state.pixels, state.pixels + bytes);
  }
  std::free(state.pixels);
  std::free(state.rows);
  return ok ? std::string() : std::string(state.message);
}

std::string encode_png(const RawImage& image, std::vector<std::uint8_t>& out) {
  if (image.width == 0 || image.height == 0) return "an image needs at least one pixel";
  if (image.channels != 1 && image.channels != 3) return "a PNG is written with 1 or 3 channels";
  if (image.bit_depth != 8 && image.bit_depth != 16) return "a PNG is written with 8 or 16 bits per sample";
  const std::size_t row_bytes = std::size_t{image.width} * static_cast<std::size_t>(image.channels) *
                                static_cast<std::size_t>(image.bit_depth / 8);
  if (image.samples.size() != row_bytes * image.height) return "sample buffer does not match the image size";
  std::vector<png_bytep> rows(image.height);
  // libpng's row type is non-const; it only reads the rows when writing.
  auto* base = const_cast<png_bytep>(image.samples.data());
  for (std::uint32_t y = 0; y < image.height; ++y) rows[y] = base + row_bytes * y;

  PngState state{};
  state.width = image.width;
  state.height = image.height;
  state.channels = image.channels;
  state.bit_depth = image.bit_depth;
  state.rows = rows.data();
  const bool ok = run_libpng(&state, Direction::Write, encode_body);
  if (ok) out.assign(state.output, state.output + state.output_size);
  std::free(state.output);
  return ok ? std::string() : std::string(state.message);
}

}  // namespace medadv::codec
