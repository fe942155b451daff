// Request opcodes of the core X protocol that the proxy acts on by name
// (the generated tables know every request; these are for code that
// handles one request in a particular way).
#pragma once

#include <cstdint>

namespace ckpt::x11::op {

enum CoreOpcode : std::uint8_t {
  CreateWindow = 1,
  ChangeWindowAttributes = 2,
  DestroyWindow = 4,
  DestroySubwindows = 5,
  ReparentWindow = 7,
  MapWindow = 8,
  MapSubwindows = 9,
  UnmapWindow = 10,
  UnmapSubwindows = 11,
  ConfigureWindow = 12,
  CirculateWindow = 13,
  InternAtom = 16,
  GetAtomName = 17,
  ChangeProperty = 18,
  DeleteProperty = 19,
  GetProperty = 20,
  SetSelectionOwner = 22,
  SendEvent = 25,
  GrabButton = 28,
  UngrabButton = 29,
  GrabKey = 33,
  UngrabKey = 34,
  SetInputFocus = 42,
  GetInputFocus = 43,
  OpenFont = 45,
  CloseFont = 46,
  CreatePixmap = 53,
  FreePixmap = 54,
  CreateGC = 55,
  ChangeGC = 56,
  SetDashes = 58,
  SetClipRectangles = 59,
  FreeGC = 60,
  PutImage = 72,
  GetImage = 73,
  CreateColormap = 78,
  FreeColormap = 79,
  AllocColor = 84,
  AllocNamedColor = 85,
  AllocColorCells = 86,
  FreeColors = 88,
  StoreColors = 89,
  StoreNamedColor = 90,
  QueryColors = 91,
  CreateCursor = 93,
  CreateGlyphCursor = 94,
  FreeCursor = 95,
  RecolorCursor = 96,
  QueryExtension = 98,
  ListExtensions = 99,
};

}  // namespace ckpt::x11::op
