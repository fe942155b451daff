// Events around a reattach (see ReplayEvents.hpp).
#include "x11proxy/reattach/ReplayEvents.hpp"

#include "x11proxy/proto/Wire.hpp"

namespace ckpt::x11 {
namespace {

constexpr std::uint8_t kUnmapNotify = 18, kMapNotify = 19, kCreateNotify = 16,
                       kConfigureNotify = 22, kPropertyNotify = 28;
constexpr std::uint32_t kCwEventMask = 0x800;
constexpr std::uint32_t kStructureNotify = 0x20000, kSubstructureNotify = 0x80000;

std::uint32_t eventMask(const ValueMap& attributes) {
  auto it = attributes.find(kCwEventMask);
  return it == attributes.end() ? 0 : it->second;
}

std::vector<std::uint8_t> unmapNotify(std::uint32_t event, std::uint32_t window,
                                      std::uint16_t sequence) {
  std::vector<std::uint8_t> e(32, 0);
  e[0] = kUnmapNotify;
  put16(&e[2], sequence);
  put32(&e[4], event);
  put32(&e[8], window);
  return e;
}

bool topLevel(const ClientModel& m, const Window& w) {
  return !m.windows.count(w.parent);
}

}  // namespace

std::vector<std::vector<std::uint8_t>> unmapNotifiesBeforeMove(const ClientModel& m,
                                                               std::uint32_t root,
                                                               std::uint16_t sequence) {
  std::uint32_t rootMask = 0;
  if (auto it = m.foreignAttributes.find(root); it != m.foreignAttributes.end())
    rootMask = eventMask(it->second);
  std::vector<std::vector<std::uint8_t>> out;
  for (const auto& [id, w] : m.windows) {
    if (!w.mapped || !topLevel(m, w)) continue;
    if (eventMask(w.attributes) & kStructureNotify) out.push_back(unmapNotify(id, id, sequence));
    if (w.parent == root && (rootMask & kSubstructureNotify))
      out.push_back(unmapNotify(root, id, sequence));
  }
  return out;
}

std::vector<std::vector<std::uint8_t>> mappingNotifiesAfterMove(std::uint8_t minKeycode,
                                                                std::uint8_t maxKeycode,
                                                                std::uint16_t sequence) {
  constexpr std::uint8_t kMappingNotify = 34, kModifier = 0, kKeyboard = 1, kPointer = 2;
  std::vector<std::vector<std::uint8_t>> out;
  for (std::uint8_t request : {kModifier, kKeyboard, kPointer}) {
    std::vector<std::uint8_t> e(32, 0);
    e[0] = kMappingNotify;
    put16(&e[2], sequence);
    e[4] = request;
    if (request == kKeyboard) {
      e[5] = minKeycode;
      e[6] = std::uint8_t(maxKeycode - minKeycode + 1);
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool replayEcho(const ClientModel& m, std::span<const std::uint8_t> e) {
  if (e.size() < 32 || (e[0] & 0x80)) return false;  // SendEvent: another client's
  auto inside = [&](std::uint32_t id) {
    auto it = m.windows.find(id);
    return it != m.windows.end() && !topLevel(m, it->second);
  };
  switch (e[0]) {
    case kCreateNotify:
      return m.windows.count(get32(&e[8])) != 0;
    case kMapNotify:
    case kConfigureNotify:
      return inside(get32(&e[8]));
    case kPropertyNotify: {
      auto it = m.windows.find(get32(&e[4]));
      return it != m.windows.end() && e[16] == 0 &&  // NewValue
             it->second.properties.count(get32(&e[8]));
    }
    default:
      return false;
  }
}

}  // namespace ckpt::x11
