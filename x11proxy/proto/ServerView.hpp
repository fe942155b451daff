// What a client learns about a server from the connection setup reply and
// uses afterwards as plain numbers: its resource-id range, the root window,
// the default colormap, the visuals and the image formats. A reattach maps
// the first server's view (the one the client keeps) onto the new server's.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace ckpt::x11 {

struct VisualInfo {
  std::uint32_t id = 0;
  std::uint8_t depth = 0, visualClass = 0, bitsPerRgb = 0;
  std::uint16_t colormapEntries = 0;
  std::uint32_t redMask = 0, greenMask = 0, blueMask = 0;
  bool sameShape(const VisualInfo& o) const {
    return depth == o.depth && visualClass == o.visualClass && bitsPerRgb == o.bitsPerRgb &&
           colormapEntries == o.colormapEntries && redMask == o.redMask &&
           greenMask == o.greenMask && blueMask == o.blueMask;
  }
};

struct PixmapFormat {
  std::uint8_t depth = 0, bitsPerPixel = 0, scanlinePad = 0;
};

struct ServerView {
  std::uint32_t idBase = 0, idMask = 0;
  std::uint32_t root = 0, defaultColormap = 0, rootVisual = 0;
  std::uint32_t whitePixel = 0, blackPixel = 0;
  std::uint16_t width = 0, height = 0;
  std::uint8_t rootDepth = 0, imageByteOrder = 0, bitmapBitOrder = 0;
  std::uint8_t minKeycode = 8, maxKeycode = 255;
  std::vector<VisualInfo> visuals;
  std::vector<PixmapFormat> formats;

  bool ownsId(std::uint32_t id) const { return id != 0 && (id & ~idMask) == idBase; }
  const VisualInfo* visual(std::uint32_t id) const;
  const PixmapFormat* format(std::uint8_t depth) const;
  // The visual on this server that looks like `v` (the root visual first), if any.
  std::optional<std::uint32_t> matchVisual(const VisualInfo& v) const;
};

// Parses a setup reply (the bytes after the 8-byte prefix included); first screen only.
ServerView parseSetup(std::span<const std::uint8_t> setup);

}  // namespace ckpt::x11
