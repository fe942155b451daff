// An X client that draws large images and reads them back, over and over:
// each round puts a fresh pattern into a pixmap with PutImage (large enough
// to need BIG-REQUESTS, and one that does not), reads it back with GetImage
// and compares. Whatever carries its connection (the proxy, a move, a
// checkpoint) must deliver every byte of every image in order.
//
//   x11_images STATUS_FILE
// STATUS_FILE is rewritten after every round: "rounds N" while all matched,
// "FAIL ..." (and exit 1) at the first difference. SIGTERM ends it (exit 0).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <xcb/xcb.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;

void onTerm(int) {
  g_stop = 1;
}

void status(int fd, const std::string& line) {
  (void)!::ftruncate(fd, 0);
  (void)!::pwrite(fd, line.data(), line.size(), 0);
}

// The pattern of round `round`: every byte depends on its place and the round.
std::vector<std::uint8_t> pattern(std::size_t bytes, unsigned round) {
  std::vector<std::uint8_t> data(bytes);
  std::uint32_t x = 2166136261u ^ round;
  for (auto& b : data) {
    x = x * 1664525u + 1013904223u;
    b = std::uint8_t(x >> 24);
  }
  return data;
}

// Puts `side`x`side` pixels into `pixmap` and reads them back; "" when they
// match (the unused fourth byte of each 32-bit pixel aside).
std::string roundTrip(xcb_connection_t* c, xcb_pixmap_t pixmap, xcb_gcontext_t gc, int side,
                      unsigned round) {
  std::size_t bytes = std::size_t(side) * side * 4;
  auto data = pattern(bytes, round);
  xcb_put_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP, pixmap, gc, std::uint16_t(side), std::uint16_t(side),
                0, 0, 0, 24, std::uint32_t(bytes), data.data());
  xcb_generic_error_t* err = nullptr;
  xcb_get_image_reply_t* r =
      xcb_get_image_reply(c,
                          xcb_get_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP, pixmap, 0, 0,
                                        std::uint16_t(side), std::uint16_t(side), ~0u),
                          &err);
  if (!r) {
    std::string what = "GetImage failed (error " + std::to_string(err ? err->error_code : -1) + ")";
    std::free(err);
    return what;
  }
  std::string what;
  const std::uint8_t* got = xcb_get_image_data(r);
  if (std::size_t(xcb_get_image_data_length(r)) != bytes) {
    what = "GetImage returned " + std::to_string(xcb_get_image_data_length(r)) + " bytes, not " +
           std::to_string(bytes);
  } else {
    for (std::size_t i = 0; i < bytes; ++i) {
      if (i % 4 == 3 || got[i] == data[i]) continue;
      what = "byte " + std::to_string(i) + " of a " + std::to_string(side) + "x" +
             std::to_string(side) + " image differs";
      break;
    }
  }
  std::free(r);
  return what;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: x11_images STATUS_FILE\n");
    return 2;
  }
  int out = ::open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return 2;
  struct sigaction sa {};
  sa.sa_handler = onTerm;
  ::sigaction(SIGTERM, &sa, nullptr);
  xcb_connection_t* c = xcb_connect(nullptr, nullptr);
  if (xcb_connection_has_error(c)) {
    status(out, "FAIL cannot connect to the X server\n");
    return 2;
  }
  const xcb_screen_t* screen = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
  if (screen->root_depth != 24) {
    status(out, "FAIL the root depth is not 24\n");
    return 2;
  }
  constexpr int kLarge = 256, kSmall = 160;  // 256 KiB (BIG-REQUESTS), 100 KiB
  xcb_pixmap_t pixmap = xcb_generate_id(c);
  xcb_create_pixmap(c, 24, pixmap, screen->root, kLarge, kLarge);
  xcb_gcontext_t gc = xcb_generate_id(c);
  xcb_create_gc(c, gc, pixmap, 0, nullptr);
  for (unsigned round = 1; !g_stop; ++round) {
    for (int side : {kLarge, kSmall}) {
      if (std::string what = roundTrip(c, pixmap, gc, side, round); !what.empty()) {
        status(out, "FAIL round " + std::to_string(round) + ": " + what + "\n");
        return 1;
      }
    }
    status(out, "rounds " + std::to_string(round) + "\n");
  }
  xcb_disconnect(c);
  return 0;
}
