// What one client connection has created on the server, as the proxy saw it
// go by, in the client's view (its ids and atoms): the state a reattach
// replays on a new server (x11proxy/reattach/Replay.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ckpt::x11 {

struct Property {
  std::uint32_t type = 0;
  std::uint8_t format = 8;  // 8, 16 or 32
  std::vector<std::uint8_t> data;
};

// Values of a value list (CreateWindow's attributes, a GC's components) by mask bit.
using ValueMap = std::map<std::uint32_t, std::uint32_t>;

struct Window {
  std::uint32_t id = 0, parent = 0, visual = 0;
  std::int16_t x = 0, y = 0;
  std::uint16_t width = 0, height = 0, borderWidth = 0, windowClass = 0;
  std::uint8_t depth = 0;
  bool mapped = false;
  std::uint64_t order = 0;  // siblings stack in it, lowest first (creation order, then restacks)
  ValueMap attributes;
  std::map<std::uint32_t, Property> properties;  // by atom
  // SHAPE requests on the window, as sent (replayed in order).
  std::vector<std::vector<std::uint8_t>> shapeRequests;
  // Passive grabs on the window (GrabButton, GrabKey), as sent.
  std::vector<std::vector<std::uint8_t>> grabs;
  // XFIXES SelectSelectionInput (one per selection) and SelectCursorInput, as sent.
  std::vector<std::vector<std::uint8_t>> xfixesSelects;
  // Shapes set from XFIXES regions (SetWindowShapeRegion): shape kind → the
  // client's XFIXES major. Their rectangles are read from the server at a move.
  std::map<std::uint8_t, std::uint8_t> regionShapes;
};

// A GC's or picture's clip set from an XFIXES region (SetGCClipRegion,
// SetPictureClipRegion): the server copied the region then, so its
// rectangles are read from the GC or picture at a move, not from the region.
struct RegionClip {
  std::uint8_t xfixesMajor = 0;
  std::int16_t x = 0, y = 0;  // the clip origin it was set with
};

// A resource whose state is kept as the requests that made and changed it,
// as the client sent them: cursors, colormaps, RENDER pictures and glyph
// sets. Replayed in creation order, after the resources they refer to.
struct RecordedResource {
  std::uint64_t order = 0;
  std::vector<std::vector<std::uint8_t>> requests;
  // Fonts a glyph cursor was made from, by name: the client may have closed them.
  std::map<std::uint32_t, std::string> fonts;
};

struct Pixmap {
  std::uint32_t id = 0, drawable = 0;
  std::uint8_t depth = 0;
  std::uint16_t width = 0, height = 0;
};

struct Gc {
  std::uint32_t id = 0, drawable = 0;
  std::uint8_t depth = 0;  // of the drawable it was made for (0: not known)
  ValueMap values;
  std::vector<std::uint8_t> clipRectangles, dashes;  // the last such request, as sent
  std::optional<RegionClip> regionClip;
};

// A colour cell the client holds in a colormap: shared and read-only
// (AllocColor, AllocNamedColor: the colour the server gave), or its own and
// writable (AllocColorCells, then StoreColors or StoreNamedColor). On a
// colormap whose pixels the server hands out (PseudoColor and the like)
// another server gives other pixels: a reattach allocates the cells again
// and maps the pixel values.
struct ColorCell {
  std::uint16_t red = 0, green = 0, blue = 0;
  bool writable = false;
  bool stored = false;           // a writable cell's colour is set
  std::string storedName;        // ... by StoreNamedColor, by this name
  std::uint8_t storedFlags = 7;  // which of red, green, blue (1, 2, 4) the name set
  std::uint32_t refs = 1;        // read-only: allocations not yet freed
};

class ClientModel {
 public:
  std::map<std::uint32_t, Window> windows;
  std::map<std::uint32_t, Pixmap> pixmaps;
  std::map<std::uint32_t, Gc> gcs;
  std::map<std::uint32_t, std::string> fonts;  // by id: the name the client opened
  std::map<std::uint32_t, RecordedResource> cursors, colormaps, renderObjects;
  // Attributes set on windows the client does not own (event masks on the root).
  std::map<std::uint32_t, ValueMap> foreignAttributes;
  // Each extension's first request (minor 0: QueryVersion, BIG-REQUESTS'
  // Enable), by client major opcode: some servers serve an extension only
  // after it, so a new connection starts with it again.
  std::map<std::uint8_t, std::vector<std::uint8_t>> versionRequests;
  std::uint64_t nextOrder = 1;
  // XFIXES regions the client holds: id → its XFIXES major opcode (their
  // rectangles are read from the server at a move).
  std::map<std::uint32_t, std::uint8_t> regions;
  // RENDER pictures whose clip was last set from a region.
  std::map<std::uint32_t, RegionClip> pictureClips;
  // Colour cells the client holds: colormap → pixel → cell.
  std::map<std::uint32_t, std::map<std::uint32_t, ColorCell>> colors;
  void allocColor(std::uint32_t colormap, std::uint32_t pixel, ColorCell cell);
  void freeColor(std::uint32_t colormap, std::uint32_t pixel);
  // StoreColors' item (flags: 1 red, 2 green, 4 blue); writable cells only.
  void storeColor(std::uint32_t colormap, std::uint32_t pixel, std::uint8_t flags,
                  std::uint16_t red, std::uint16_t green, std::uint16_t blue);
  // Selections the client owns: selection atom → its owner window.
  std::map<std::uint32_t, std::uint32_t> selections;
  std::map<std::string, std::uint32_t> atomsByName;
  std::map<std::uint32_t, std::string> atomNames;

  void noteAtom(const std::string& name, std::uint32_t atom);
  Window* window(std::uint32_t id);
  // Removes the window and its descendants.
  void destroyWindow(std::uint32_t id);
  void destroySubwindows(std::uint32_t id);
  // ConfigureWindow's stack mode (0 Above, 1 Below, 2 TopIf, 3 BottomIf, 4
  // Opposite) relative to `sibling` (0: all siblings); TopIf and BottomIf
  // count as Above and Below (what they do depends on what covers what on
  // the screen), Opposite is left alone.
  void restack(std::uint32_t id, std::uint32_t sibling, std::uint8_t mode);
  // CirculateWindow: direction 0 raises the lowest mapped child, 1 lowers the highest.
  void circulate(std::uint32_t parent, std::uint8_t direction);
  // UngrabButton / UngrabKey: drops the window's passive grabs of that
  // button or key (0: any) with those modifiers (0x8000: any).
  // The keycodes of the passive key grabs (GrabKey; AnyKey left out), and
  // the same grabs with their keycodes changed by `remap`.
  std::set<std::uint8_t> grabbedKeycodes() const;
  void remapGrabbedKeycodes(const std::map<std::uint8_t, std::uint8_t>& remap);
  void ungrab(std::uint32_t window, std::uint8_t grabOpcode, std::uint8_t detail,
              std::uint16_t modifiers);
  // Properties set on windows the client does not own (the root) are
  // recorded too: a reattach may need them.
  void changeProperty(std::uint32_t window, std::uint32_t atom, std::uint8_t mode, Property value);
  void deleteProperty(std::uint32_t window, std::uint32_t atom);
  std::map<std::uint32_t, std::map<std::uint32_t, Property>> foreignProperties;
};

}  // namespace ckpt::x11
