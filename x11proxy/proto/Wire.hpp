// Reading the X11 wire format (little-endian clients only, as the proxy
// accepts) and finding message boundaries in both directions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ckpt::x11 {

inline std::uint16_t get16(const std::uint8_t* p) {
  return std::uint16_t(p[0] | p[1] << 8);
}
inline std::uint32_t get32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}
inline void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = std::uint8_t(v);
  p[1] = std::uint8_t(v >> 8);
}
inline void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::uint8_t(v >> (8 * i));
}

inline constexpr std::uint8_t kGenericEvent = 35;

// Bytes of the request at p, or 0 when `avail` does not yet say. A 16-bit
// length of 0 is BIG-REQUESTS: a 32-bit length follows the header.
inline std::size_t requestSize(const std::uint8_t* p, std::size_t avail) {
  if (avail < 4) return 0;
  std::size_t units = get16(p + 2);
  if (units != 0) return units * 4;
  if (avail < 8) return 0;
  units = get32(p + 4);
  // A big length below 2 cannot hold its own header; the server rejects the
  // request, and counting it as the header alone keeps the parser moving.
  return units < 2 ? 8 : units * 4;
}

// Bytes of the reply, event or error at p, or 0 when `avail` does not yet say.
inline std::size_t serverMessageSize(const std::uint8_t* p, std::size_t avail) {
  if (avail < 8) return 0;
  if (p[0] == 1 || (p[0] & 0x7f) == kGenericEvent) return 32 + std::size_t(get32(p + 4)) * 4;
  return 32;
}

// The size of the connection setup request whose first 12 bytes are at p.
inline std::size_t setupRequestSize(const std::uint8_t* p) {
  auto pad4 = [](std::size_t n) { return (n + 3) & ~std::size_t(3); };
  return 12 + pad4(get16(p + 6)) + pad4(get16(p + 8));
}

}  // namespace ckpt::x11
