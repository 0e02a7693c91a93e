// JPEG decoding through libjpeg(-turbo). Its error manager formats the message and
// longjmps back to a frame that holds only plain C data (JpegState), which then
// destroys the decompressor and frees what it allocated.
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

#include "image_codecs.h"

namespace medadv::codec {

namespace {

struct JpegState {
  jpeg_error_mgr errors;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64];
  unsigned char* pixels;  // malloc'd, [height][width][channels]
  JDIMENSION width, height;
  int channels;
};

[[noreturn]] void on_error(j_common_ptr info) {
  auto* state = reinterpret_cast<JpegState*>(info->err);
  (*info->err->format_message)(info, state->message);
  std::longjmp(state->jump, 1);
}

// Corrupt-data warnings that mean image data is missing are errors: libjpeg would
// otherwise fill the rest of a truncated file with gray. Other warnings are benign.
void on_message(j_common_ptr info, int level) {
  if (level >= 0) return;  // trace messages
  const int code = info->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER) on_error(info);
  info->err->num_warnings++;
}

bool decode(const unsigned char* data, std::size_t size, JpegState* state, jpeg_decompress_struct* info) {
  info->err = jpeg_std_error(&state->errors);
  state->errors.error_exit = on_error;
  state->errors.emit_message = on_message;
  if (setjmp(state->jump)) {
    jpeg_destroy_decompress(info);
    return false;
  }
  jpeg_create_decompress(info);
  jpeg_mem_src(info, data, static_cast<unsigned long>(size));
  jpeg_read_header(info, TRUE);
  if (info->jpeg_color_space == JCS_CMYK || info->jpeg_color_space == JCS_YCCK) {
    std::snprintf(state->message, sizeof state->message,
                  "CMYK JPEGs are not supported (convert the image to RGB or grayscale)");
    jpeg_destroy_decompress(info);
    return false;
  }
  if (!dimensions_allowed(info->image_width, info->image_height, state->message, sizeof state->message)) {
    jpeg_destroy_decompress(info);
    return false;
  }
  info->out_color_space = info->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(info);
  state->width = info->output_width;
  state->height = info->output_height;
  state->channels = info->output_components;
  const std::size_t row_bytes = std::size_t{state->width} * static_cast<std::size_t>(state->channels);
  state->pixels = static_cast<unsigned char*>(std::malloc(row_bytes * state->height));
  if (!state->pixels) {
    std::snprintf(state->message, sizeof state->message, "out of memory");
    jpeg_destroy_decompress(info);
    return false;
  }
  while (info->output_scanline < info->output_height) {
    JSAMPROW row = state->pixels + row_bytes * info->output_scanline;
    jpeg_read_scanlines(info, &row, 1);
  }
  jpeg_finish_decompress(info);
  jpeg_destroy_decompress(info);
  return true;
}

}  // namespace

std::string decode_jpeg(const std::uint8_t* data, std::size_t size, RawImage& out) {
  JpegState state{};
  jpeg_decompress_struct info{};
  const bool ok = decode(data, size, &state, &info);
  if (ok) {
    out.width = state.width;
    out.height = state.height;
    out.channels = state.channels;
    out.bit_depth = 8;
    out.samples.assign(state.pixels, state.pixels + std::size_t{state.width} * state.height *
                                                         static_cast<std::size_t>(state.channels));
  }
  std::free(state.pixels);
  return ok ? std::string() : std::string(state.message);
}

}  // namespace medadv::codec
