// Reading a server's time (see ServerTime.hpp).
#include "x11proxy/reattach/ServerTime.hpp"

#include <cstdlib>
#include <memory>

#include "core/util/Error.hpp"

namespace ckpt::x11 {

std::uint32_t serverTime(xcb_connection_t* c, std::uint32_t root) {
  xcb_window_t w = xcb_generate_id(c);
  std::uint32_t values[] = {1, XCB_EVENT_MASK_PROPERTY_CHANGE};  // override-redirect, events
  xcb_create_window(c, 0, w, root, -1, -1, 1, 1, 0, XCB_WINDOW_CLASS_INPUT_ONLY,
                    XCB_COPY_FROM_PARENT, XCB_CW_OVERRIDE_REDIRECT | XCB_CW_EVENT_MASK, values);
  xcb_change_property(c, XCB_PROP_MODE_APPEND, w, XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8, 0, nullptr);
  xcb_flush(c);
  std::uint32_t time = 0;
  bool stamped = false;
  // The connection is the proxy's own and has selected nothing else.
  while (!stamped) {
    std::unique_ptr<xcb_generic_event_t, decltype(&std::free)> e(xcb_wait_for_event(c), &std::free);
    if (!e) throw Error("x11: the X server went away while its time was read");
    if ((e->response_type & 0x7f) != XCB_PROPERTY_NOTIFY) continue;
    auto* p = reinterpret_cast<xcb_property_notify_event_t*>(e.get());
    if (p->window != w) continue;
    time = p->time;
    stamped = true;
  }
  xcb_destroy_window(c, w);
  xcb_flush(c);
  return time;
}

}  // namespace ckpt::x11
