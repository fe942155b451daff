// An X client with one passive key grab: a window titled "grabkey" that
// selects no key events, and a grab of the key making F5 on it (any
// modifiers). Every key press the grab delivers appends "pressed" to the
// file named by argv[1]: a line appears only while the grab holds.
#include <xcb/xcb.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace {

constexpr xcb_keysym_t kF5 = 0xffc2;

// The keycode that makes `keysym` without modifiers, or 0.
xcb_keycode_t keycodeOf(xcb_connection_t* c, const xcb_setup_t* setup, xcb_keysym_t keysym) {
  int count = setup->max_keycode - setup->min_keycode + 1;
  std::unique_ptr<xcb_get_keyboard_mapping_reply_t, decltype(&std::free)> r(
      xcb_get_keyboard_mapping_reply(
          c, xcb_get_keyboard_mapping(c, setup->min_keycode, std::uint8_t(count)), nullptr),
      &std::free);
  if (!r) return 0;
  const xcb_keysym_t* syms = xcb_get_keyboard_mapping_keysyms(r.get());
  for (int k = 0; k < count; ++k)
    if (syms[k * r->keysyms_per_keycode] == keysym) return xcb_keycode_t(setup->min_keycode + k);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: x11_grab_key OUTPUT\n");
    return 2;
  }
  xcb_connection_t* c = xcb_connect(nullptr, nullptr);
  if (xcb_connection_has_error(c)) {
    std::fprintf(stderr, "x11_grab_key: cannot connect to the X server\n");
    return 2;
  }
  const xcb_setup_t* setup = xcb_get_setup(c);
  xcb_screen_t* screen = xcb_setup_roots_iterator(setup).data;
  xcb_keycode_t key = keycodeOf(c, setup, kF5);
  if (!key) {
    std::fprintf(stderr, "x11_grab_key: no key makes F5\n");
    return 2;
  }
  xcb_window_t w = xcb_generate_id(c);
  std::uint32_t values[] = {screen->white_pixel};
  xcb_create_window(c, XCB_COPY_FROM_PARENT, w, screen->root, 0, 0, 100, 100, 0,
                    XCB_WINDOW_CLASS_INPUT_OUTPUT, XCB_COPY_FROM_PARENT, XCB_CW_BACK_PIXEL, values);
  xcb_grab_key(c, 1, w, XCB_MOD_MASK_ANY, key, XCB_GRAB_MODE_ASYNC, XCB_GRAB_MODE_ASYNC);
  xcb_map_window(c, w);
  // Named once everything else is done: a test that finds the window by
  // name finds it ready.
  const char title[] = "grabkey";
  xcb_change_property(c, XCB_PROP_MODE_REPLACE, w, XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8,
                      sizeof title - 1, title);
  xcb_flush(c);
  while (xcb_generic_event_t* e = xcb_wait_for_event(c)) {
    if ((e->response_type & 0x7f) == XCB_KEY_PRESS) {
      if (FILE* f = std::fopen(argv[1], "a")) {
        std::fputs("pressed\n", f);
        std::fclose(f);
      }
    }
    std::free(e);
  }
  return 0;
}
