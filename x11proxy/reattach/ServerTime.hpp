// An X server's current time, in its own milliseconds. Timestamps are only
// comparable on one server: after a reattach the proxy shifts every
// timestamp by the difference between the old server's time (as the client
// last saw it) and the new one's, so the client's clock runs on without a
// jump back (selection and grab times depend on it).
#pragma once

#include <xcb/xcb.h>

#include <cstdint>

namespace ckpt::x11 {

// A property change on a window of the proxy's own is stamped with the
// server's time; the window is gone again on return. Throws when the server
// does not answer.
std::uint32_t serverTime(xcb_connection_t* c, std::uint32_t root);

}  // namespace ckpt::x11
