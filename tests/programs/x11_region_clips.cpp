// An X client that clips with XFIXES regions it destroys at once: a window
// titled "regionclips" shaped by a region (its bottom-right corner cut
// away), a GC whose clip is a region (two squares), and a RENDER picture on
// the window whose clip is a region (a square at the bottom left). On every
// Expose it fills the whole window through the GC (black) and through the
// picture (red): only the clipped parts change colour, so what the window
// shows depends on every clip holding. It also asks for the picture formats
// again on every Expose: a format that changed its number is an error (exit 3).
#include <xcb/render.h>
#include <xcb/shape.h>
#include <xcb/xcb.h>
#include <xcb/xfixes.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

template <typename T>
using Reply = std::unique_ptr<T, decltype(&std::free)>;

// The RENDER picture format of the visual.
xcb_render_pictformat_t formatOf(xcb_connection_t* c, xcb_visualid_t visual) {
  Reply<xcb_render_query_pict_formats_reply_t> r(
      xcb_render_query_pict_formats_reply(c, xcb_render_query_pict_formats(c), nullptr),
      &std::free);
  if (!r) return 0;
  for (auto s = xcb_render_query_pict_formats_screens_iterator(r.get()); s.rem;
       xcb_render_pictscreen_next(&s))
    for (auto d = xcb_render_pictscreen_depths_iterator(s.data); d.rem;
         xcb_render_pictdepth_next(&d))
      for (auto v = xcb_render_pictdepth_visuals_iterator(d.data); v.rem;
           xcb_render_pictvisual_next(&v))
        if (v.data->visual == visual) return v.data->format;
  return 0;
}

xcb_xfixes_region_t region(xcb_connection_t* c, std::initializer_list<xcb_rectangle_t> rects) {
  xcb_xfixes_region_t id = xcb_generate_id(c);
  xcb_xfixes_create_region(c, id, std::uint32_t(rects.size()), rects.begin());
  return id;
}

}  // namespace

int main() {
  xcb_connection_t* c = xcb_connect(nullptr, nullptr);
  if (xcb_connection_has_error(c)) {
    std::fprintf(stderr, "x11_region_clips: cannot connect to the X server\n");
    return 2;
  }
  xcb_screen_t* screen = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
  Reply<xcb_xfixes_query_version_reply_t> xfixes(
      xcb_xfixes_query_version_reply(c, xcb_xfixes_query_version(c, 5, 0), nullptr), &std::free);
  Reply<xcb_render_query_version_reply_t> render(
      xcb_render_query_version_reply(c, xcb_render_query_version(c, 0, 11), nullptr), &std::free);
  if (!xfixes || !render) {
    std::fprintf(stderr, "x11_region_clips: the server lacks XFIXES or RENDER\n");
    return 2;
  }
  xcb_window_t w = xcb_generate_id(c);
  std::uint32_t values[] = {screen->white_pixel, XCB_EVENT_MASK_EXPOSURE};
  xcb_create_window(c, XCB_COPY_FROM_PARENT, w, screen->root, 0, 0, 120, 120, 0,
                    XCB_WINDOW_CLASS_INPUT_OUTPUT, XCB_COPY_FROM_PARENT,
                    XCB_CW_BACK_PIXEL | XCB_CW_EVENT_MASK, values);

  xcb_xfixes_region_t shape = region(c, {{0, 0, 120, 100}, {0, 100, 60, 20}});
  xcb_xfixes_set_window_shape_region(c, w, XCB_SHAPE_SK_BOUNDING, 0, 0, shape);
  xcb_gcontext_t gc = xcb_generate_id(c);
  std::uint32_t black = screen->black_pixel;
  xcb_create_gc(c, gc, w, XCB_GC_FOREGROUND, &black);
  xcb_xfixes_region_t squares = region(c, {{10, 10, 40, 40}, {60, 60, 40, 40}});
  xcb_xfixes_set_gc_clip_region(c, gc, squares, 0, 0);
  xcb_render_picture_t picture = xcb_generate_id(c);
  xcb_render_pictformat_t format = formatOf(c, screen->root_visual);
  xcb_render_create_picture(c, picture, w, format, 0, nullptr);
  xcb_xfixes_region_t corner = region(c, {{0, 60, 50, 50}});
  xcb_xfixes_set_picture_clip_region(c, picture, corner, 0, 0);
  for (auto r : {shape, squares, corner}) xcb_xfixes_destroy_region(c, r);
  xcb_map_window(c, w);
  // Named once everything else is done: a test that finds the window by
  // name finds it ready.
  const char title[] = "regionclips";
  xcb_change_property(c, XCB_PROP_MODE_REPLACE, w, XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8,
                      sizeof title - 1, title);
  xcb_flush(c);

  while (xcb_generic_event_t* e = xcb_wait_for_event(c)) {
    if ((e->response_type & 0x7f) == XCB_EXPOSE) {
      if (xcb_render_pictformat_t now = formatOf(c, screen->root_visual); now != format) {
        std::fprintf(stderr, "x11_region_clips: the window's picture format was 0x%x, now 0x%x\n",
                     format, now);
        return 3;
      }
      xcb_rectangle_t all{0, 0, 120, 120};
      xcb_poly_fill_rectangle(c, w, gc, 1, &all);
      xcb_render_fill_rectangles(c, XCB_RENDER_PICT_OP_SRC, picture, {0xffff, 0, 0, 0xffff}, 1,
                                 &all);
      xcb_flush(c);
    }
    std::free(e);
  }
  return 0;
}
