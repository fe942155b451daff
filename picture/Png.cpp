#include "picture/Png.hpp"

#include <fcntl.h>
#include <png.h>
#include <unistd.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::picture {
namespace {

// libpng reports errors by longjmp to the setjmp of the calling function:
// the functions that call setjmp below hold no C++ objects of their own
// (what they fill lives in the caller), so nothing is skipped on the way.
struct PngMessage {
  char text[200] = {};
};
void pngError(png_structp png, png_const_charp msg) {
  auto* m = static_cast<PngMessage*>(png_get_error_ptr(png));
  std::snprintf(m->text, sizeof m->text, "%s", msg);
  png_longjmp(png, 1);
}
void pngWarning(png_structp, png_const_charp) {}

struct Output {
  std::string bytes;
};
void appendOut(png_structp p, png_bytep data, png_size_t len) {
  static_cast<Output*>(png_get_io_ptr(p))->bytes.append(reinterpret_cast<char*>(data), len);
}
void flushNothing(png_structp) {}

// False (with the message in `m`) when libpng failed.
bool writeRows(const Frame& frame, Output& out, PngMessage& m) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &m, pngError, pngWarning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, &out, appendOut, flushNothing);
  png_set_IHDR(png, info, png_uint_32(frame.width), png_uint_32(frame.height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < frame.height; ++y)
    png_write_row(png, frame.rgb.data() + size_t(y) * size_t(frame.width) * 3);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

struct Input {
  const std::string* bytes;
  size_t pos;
};
void readIn(png_structp p, png_bytep data, png_size_t len) {
  auto* src = static_cast<Input*>(png_get_io_ptr(p));
  if (src->bytes->size() - src->pos < len) png_error(p, "the file ends early");
  std::memcpy(data, src->bytes->data() + src->pos, len);
  src->pos += len;
}

// Reads the picture as 8-bit RGB into `f`; false (message in `m`) on failure.
bool readRows(Input& in, Frame& f, PngMessage& m) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &m, pngError, pngWarning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, &in, readIn);
  png_read_info(png, info);
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_gray_to_rgb(png);
  png_read_update_info(png, info);
  f.width = int(png_get_image_width(png, info));
  f.height = int(png_get_image_height(png, info));
  if (png_get_rowbytes(png, info) != size_t(f.width) * 3) png_error(png, "unexpected row layout");
  f.rgb.resize(size_t(f.width) * size_t(f.height) * 3);
  for (int y = 0; y < f.height; ++y)
    png_read_row(png, f.rgb.data() + size_t(y) * size_t(f.width) * 3, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

}  // namespace

std::string encodePng(const Frame& frame) {
  if (frame.width <= 0 || frame.height <= 0 ||
      frame.rgb.size() != size_t(frame.width) * size_t(frame.height) * 3)
    throw Error(fmt::format("PNG: a frame of {}x{} with {} bytes cannot be written", frame.width,
                            frame.height, frame.rgb.size()));
  Output out;
  PngMessage m;
  if (!writeRows(frame, out, m)) throw Error(fmt::format("PNG: libpng failed: {}", m.text));
  return std::move(out.bytes);
}

Frame decodePng(const std::string& bytes, const std::string& what) {
  if (bytes.size() < 8 || png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) != 0)
    throw Error(fmt::format("{}: not a PNG file", what));
  Input in{&bytes, 0};
  Frame f;
  PngMessage m;
  if (!readRows(in, f, m)) throw Error(fmt::format("{}: not a valid PNG file ({})", what, m.text));
  return f;
}

void writePngFile(const std::string& path, const Frame& frame) {
  std::string bytes = encodePng(frame);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) throwErrno(fmt::format("create {}", path));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throwErrno(fmt::format("write {}", path));
    done += size_t(n);
  }
}

}  // namespace ckpt::picture
