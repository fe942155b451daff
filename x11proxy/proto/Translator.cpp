// Rewriting messages between the client's view and the server's (see Translator.hpp).
#include "x11proxy/proto/Translator.hpp"
#include "x11proxy/proto/CoreOpcodes.hpp"

#include <algorithm>
#include <cstring>

#include "x11proxy/proto/PictFormats.hpp"
#include "x11proxy/proto/Wire.hpp"

namespace ckpt::x11 {
namespace {

constexpr std::uint32_t kLastPredefinedAtom = 68;
// Predefined atoms that name property types holding ids.
constexpr std::uint32_t kAtomAtom = 4, kBitmap = 5, kColormap = 7, kCursor = 8, kDrawable = 17,
                        kFont = 18, kPixmapAtom = 20, kVisualId = 32, kWindowAtom = 33,
                        kWmHints = 35;
constexpr std::uint8_t kClientMessage = 33, kKeymapNotify = 11, kQueryPictFormats = 1;

bool idKind(IdKind k) {
  switch (k) {
    case IdKind::Window:
    case IdKind::Pixmap:
    case IdKind::Cursor:
    case IdKind::Font:
    case IdKind::Gcontext:
    case IdKind::Colormap:
    case IdKind::Drawable:
    case IdKind::Fontable:
    case IdKind::RenderGlyphset:
    case IdKind::RenderPicture:
    case IdKind::XfixesRegion:
    case IdKind::XfixesBarrier:
      return true;
    default:
      return false;
  }
}

template <typename Map>
std::uint32_t lookup(const Map& m, std::uint32_t v) {
  auto it = m.find(v);
  return it == m.end() ? v : it->second;
}

}  // namespace

bool extensionCarried(std::string_view name) {
  const ExtensionLayout* e = findExtension(name);
  return e && *e->xname;
}

void Translator::attach(const ServerView& client, const ServerView& server,
                        std::map<std::uint32_t, std::uint32_t> atoms,
                        std::vector<ExtensionMapping> exts, std::uint32_t nextClientAtom) {
  client_ = client;
  server_ = server;
  atomToServer_ = std::move(atoms);
  atomToClient_.clear();
  for (auto [c, s] : atomToServer_) atomToClient_[s] = c;
  nextClientAtom_ = std::max(nextClientAtom, kLastPredefinedAtom + 1);
  for (const auto& [c, s] : atomToServer_) nextClientAtom_ = std::max(nextClientAtom_, c + 1);
  visualToServer_.clear();
  visualToClient_.clear();
  for (const auto& v : client.visuals)
    if (auto s = server.matchVisual(v)) {
      visualToServer_[v.id] = *s;
      visualToClient_.emplace(*s, v.id);
    }
  exts_ = std::move(exts);
  formatToServer_.clear();
  formatToClient_.clear();
  nextClientFormat_ = 0;
  pixelToServer_.clear();
  pixelToClient_.clear();
  pixelEntries_ = 0;
  wmProtocols_ = netWmState_ = 0;
  active_ = true;
}

void Translator::setClientAtomNames(const std::map<std::string, std::uint32_t>& byName) {
  auto find = [&](const char* n) {
    auto it = byName.find(n);
    return it == byName.end() ? 0u : it->second;
  };
  wmProtocols_ = find("WM_PROTOCOLS");
  netWmState_ = find("_NET_WM_STATE");
}

// The two id ranges swap: the client's range (in its view) is the proxy
// connection's range on the server, and the other way round. Another
// client's window on the new server may well sit in the range the client
// believes its own (servers hand out ranges by connection order): the
// client sees it in the proxy connection's range instead, which no other
// id in its view uses, and it comes back whole.
std::uint32_t Translator::idToServer(std::uint32_t id) const {
  if (client_.ownsId(id)) return server_.idBase | (id & client_.idMask);
  if (server_.ownsId(id)) return client_.idBase | (id & server_.idMask);
  if (id == client_.root) return server_.root;
  if (id == client_.defaultColormap) return server_.defaultColormap;
  return id;
}

std::uint32_t Translator::idToClient(std::uint32_t id) const {
  if (server_.ownsId(id)) return client_.idBase | (id & server_.idMask);
  if (client_.ownsId(id)) return server_.idBase | (id & client_.idMask);
  if (id == server_.root) return client_.root;
  if (id == server_.defaultColormap) return client_.defaultColormap;
  return id;
}

std::uint32_t Translator::atomToServer(std::uint32_t atom) const {
  if (atom <= kLastPredefinedAtom) return atom;
  return lookup(atomToServer_, atom);
}

std::uint32_t Translator::atomToClient(std::uint32_t atom) {
  if (atom <= kLastPredefinedAtom) return atom;
  if (auto it = atomToClient_.find(atom); it != atomToClient_.end()) return it->second;
  std::uint32_t mine = nextClientAtom_++;
  atomToClient_[atom] = mine;
  atomToServer_[mine] = atom;
  return mine;
}

std::uint32_t Translator::visualToServer(std::uint32_t v) const {
  return lookup(visualToServer_, v);
}
std::uint32_t Translator::visualToClient(std::uint32_t v) const {
  return lookup(visualToClient_, v);
}

void Translator::setPictFormats(std::map<std::uint32_t, std::uint32_t> toServer) {
  formatToServer_ = std::move(toServer);
  formatToClient_.clear();
  nextClientFormat_ = 1;
  for (auto [c, s] : formatToServer_) {
    formatToClient_.emplace(s, c);
    nextClientFormat_ = std::max(nextClientFormat_, c + 1);
  }
}

std::uint32_t Translator::formatToServer(std::uint32_t f) const {
  return lookup(formatToServer_, f);
}

std::uint32_t Translator::formatToClient(std::uint32_t f) {
  if (auto it = formatToClient_.find(f); it != formatToClient_.end()) return it->second;
  if (!nextClientFormat_) return f;  // no formats known: the numbers are the server's
  std::uint32_t mine = nextClientFormat_++;
  formatToClient_[f] = mine;
  formatToServer_[mine] = f;
  return mine;
}

void Translator::setPixels(std::map<std::uint32_t, std::uint32_t> toServer, std::uint32_t entries) {
  pixelToServer_ = std::move(toServer);
  pixelToClient_.clear();
  for (auto [c, s] : pixelToServer_) pixelToClient_.emplace(s, c);
  pixelEntries_ = entries;
}

std::uint32_t Translator::pixelToServer(std::uint32_t p) const {
  return lookup(pixelToServer_, p);
}

std::uint32_t Translator::knownPixelToClient(std::uint32_t p) const {
  return lookup(pixelToClient_, p);
}

std::uint32_t Translator::pixelToClient(std::uint32_t p) {
  if (!pixelEntries_) return p;
  if (auto it = pixelToClient_.find(p); it != pixelToClient_.end()) return it->second;
  // A pixel new to the client: itself, unless the client already means
  // another server pixel by that value; then the lowest value it does not use.
  std::uint32_t mine = p;
  if (pixelToServer_.count(mine))
    for (mine = 0; mine < pixelEntries_ && pixelToServer_.count(mine); ++mine) {
    }
  pixelToServer_[mine] = p;
  pixelToClient_[p] = mine;
  return mine;
}

void Translator::zPixmapImageReply(std::span<std::uint8_t> m) {
  // depth at 1, the image from 32
  if (!pixelEntries_ || m.size() < 32 || m[1] != 8 || client_.rootDepth != 8) return;
  for (std::size_t at = 32; at < m.size(); ++at) m[at] = std::uint8_t(pixelToClient(m[at]));
}

// The pixel values of core requests and replies (see setPixels).
void Translator::pixels(std::span<std::uint8_t> m, std::size_t shift, bool toServer) {
  auto one = [&](std::size_t at) {
    if (at + 4 > m.size()) return;
    std::uint32_t v = get32(&m[at]);
    put32(&m[at], toServer ? pixelToServer(v) : pixelToClient(v));
  };
  // Value lists: the pixels among the values present, by mask bit.
  auto values = [&](std::size_t maskAt, std::size_t listAt,
                    std::initializer_list<std::uint32_t> bits) {
    if (maskAt + 4 > m.size()) return;
    std::uint32_t mask = get32(&m[maskAt]);
    std::size_t at = listAt;
    for (std::uint32_t bit = 1; bit && at + 4 <= m.size(); bit <<= 1) {
      if (!(mask & bit)) continue;
      if (std::find(bits.begin(), bits.end(), bit) != bits.end()) one(at);
      at += 4;
    }
  };
  std::uint8_t op = m[0];
  // The colour requests name their colormap (at 4, already the server's):
  // only the default colormap's pixels are mapped.
  bool defaultColormap = m.size() >= 8 + shift && get32(&m[4 + shift]) == server_.defaultColormap;
  if (op >= op::FreeColors && op <= op::QueryColors && !defaultColormap) return;
  if (op == op::CreateWindow) values(28 + shift, 32 + shift, {0x2, 0x8});
  if (op == op::ChangeWindowAttributes) values(8 + shift, 12 + shift, {0x2, 0x8});
  if (op == op::CreateGC) values(12 + shift, 16 + shift, {0x4, 0x8});
  if (op == op::ChangeGC) values(8 + shift, 12 + shift, {0x4, 0x8});
  if (op == op::StoreNamedColor) one(8 + shift);
  if (op == op::FreeColors || op == op::QueryColors)
    for (std::size_t at = (op == op::FreeColors ? 12 : 8) + shift; at + 4 <= m.size(); at += 4)
      one(at);
  if (op == op::StoreColors)
    for (std::size_t at = 8 + shift; at + 12 <= m.size(); at += 12) one(at);
  // A ZPixmap image of the default depth, one byte a pixel (the depths
  // whose pixels come from the default colormap).
  if (op == op::PutImage && m[1] == 2 && m.size() > 24 + shift &&
      m[21 + shift] == client_.rootDepth && client_.rootDepth == 8)
    for (std::size_t at = 24 + shift; at < m.size(); ++at)
      m[at] = std::uint8_t(pixelToServer(m[at]));
}

std::uint32_t Translator::map(IdKind kind, std::uint32_t v, bool toServer) {
  if (v == 0) return 0;
  if (idKind(kind)) return toServer ? idToServer(v) : idToClient(v);
  if (kind == IdKind::Atom) return toServer ? atomToServer(v) : atomToClient(v);
  if (kind == IdKind::Visualid) return toServer ? visualToServer(v) : visualToClient(v);
  // CurrentTime (0) stays itself; other times shift by the offset.
  if (kind == IdKind::Timestamp) return toServer ? v - timeOffset_ : v + timeOffset_;
  if (kind == IdKind::RenderPictformat) return toServer ? formatToServer(v) : formatToClient(v);
  return v;
}

void Translator::fields(std::span<std::uint8_t> m, std::span<const IdField> ids, std::size_t base,
                        std::size_t shift, bool toServer) {
  for (const auto& f : ids) {
    std::size_t at = base + f.offset;
    if (at >= 4) at += shift;
    if (at + 4 > m.size()) continue;
    put32(&m[at], map(f.kind, get32(&m[at]), toServer));
  }
}

void Translator::message(std::span<std::uint8_t> m, const MessageLayout& layout, std::size_t shift,
                         bool toServer) {
  fields(m, layout.ids, 0, shift, toServer);
  if (const ListLayout* l = layout.list; l && l->stride > 0) {
    for (std::size_t at = l->offset + shift; at + l->stride <= m.size(); at += l->stride)
      fields(m, l->ids, at, 0, toServer);
  }
  if (const ValueListLayout* v = layout.values) {
    std::size_t maskAt = v->maskOffset + shift;
    if (maskAt + v->maskSize > m.size()) return;
    std::uint32_t mask = v->maskSize == 2 ? get16(&m[maskAt]) : get32(&m[maskAt]);
    std::size_t at = v->listOffset + shift;
    for (const auto& bit : v->bits) {
      if (!(mask & bit.mask)) continue;
      if (at + 4 > m.size()) break;
      if (bit.kind != IdKind::None) put32(&m[at], map(bit.kind, get32(&m[at]), toServer));
      at += 4;
    }
  }
}

void Translator::propertyData(std::span<std::uint8_t> data, std::uint32_t type, std::uint8_t format,
                              bool toServer) {
  if (format != 32) return;
  auto each = [&](IdKind kind, std::initializer_list<std::size_t> only = {}) {
    for (std::size_t i = 0; i * 4 + 4 <= data.size(); ++i) {
      if (only.size() && std::find(only.begin(), only.end(), i) == only.end()) continue;
      put32(&data[i * 4], map(kind, get32(&data[i * 4]), toServer));
    }
  };
  switch (type) {
    case kAtomAtom:
      return each(IdKind::Atom);
    case kBitmap:
    case kPixmapAtom:
    case kDrawable:
    case kWindowAtom:
    case kCursor:
    case kColormap:
    case kFont:
      return each(IdKind::Window);  // any XID: one rule for all kinds
    case kVisualId:
      return each(IdKind::Visualid);
    case kWmHints:
      // flags, input, initial_state, icon_pixmap, icon_window, icon_x, icon_y,
      // icon_mask, window_group (ICCCM 4.1.2.4).
      return each(IdKind::Window, {3, 4, 7, 8});
    default:
      return;
  }
}

void Translator::request(std::span<std::uint8_t> r, const RequestLayout* layout) {
  if (!active_ || r.size() < 4) return;
  std::size_t shift = get16(&r[2]) == 0 ? 4 : 0;  // BIG-REQUESTS: a 32-bit length follows
  std::uint8_t major = r[0];
  std::uint32_t propertyType = 0;
  if (major == op::ChangeProperty && r.size() >= 24 + shift) propertyType = get32(&r[12 + shift]);
  if (layout) message(r, layout->request, shift, true);
  if (pixelEntries_ && major < 128) pixels(r, shift, true);
  if (major >= 128) r[0] = majorToServer(major);
  if (major == op::ChangeProperty && r.size() >= 24 + shift) {
    std::size_t bytes = std::size_t(get32(&r[20 + shift])) * (r[16 + shift] / 8);
    if (24 + shift + bytes <= r.size())
      propertyData(r.subspan(24 + shift, bytes), propertyType, r[16 + shift], true);
  } else if (major == op::SendEvent && r.size() >= 44 + shift) {
    event(r.subspan(12 + shift, 32), true);
  }
}

void Translator::reply(std::span<std::uint8_t> m, const RequestLayout* layout) {
  if (!active_ || !layout || !layout->reply || m.size() < 32) return;
  if (const ExtensionLayout* render = findExtension("RENDER");
      render && layout == findRequest(*render, kQueryPictFormats)) {
    // Its lists follow one another: more than the tables' first list.
    rewritePictFormats(m, {[this](std::uint32_t f) { return formatToClient(f); },
                           [this](std::uint32_t c) { return idToClient(c); },
                           [this](std::uint32_t v) { return visualToClient(v); }});
    return;
  }
  message(m, *layout->reply, 0, false);
  if (pixelEntries_) {
    // AllocColor's pixel at 16, AllocNamedColor's at 8, AllocColorCells' list from 32.
    if (layout == findRequest(coreProtocol(), op::AllocColor))
      put32(&m[16], pixelToClient(get32(&m[16])));
    if (layout == findRequest(coreProtocol(), op::AllocNamedColor))
      put32(&m[8], pixelToClient(get32(&m[8])));
    if (layout == findRequest(coreProtocol(), op::AllocColorCells))
      for (std::size_t i = 0, at = 32; i < get16(&m[8]) && at + 4 <= m.size(); ++i, at += 4)
        put32(&m[at], pixelToClient(get32(&m[at])));
  }
  if (layout == findRequest(coreProtocol(), op::GetProperty)) {
    // format, type (already the client's), value length in format units
    std::size_t bytes = std::size_t(get32(&m[16])) * (m[1] / 8);
    if (32 + bytes <= m.size()) propertyData(m.subspan(32, bytes), get32(&m[8]), m[1], false);
  } else if (layout == findRequest(coreProtocol(), op::QueryExtension) && m[8]) {
    if (const ExtensionMapping* e = extensionForMajor(m[9], false)) {
      m[9] = e->clientMajor;
      m[10] = e->clientEvent;
      m[11] = e->clientError;
    }
  }
}

void Translator::event(std::span<std::uint8_t> m, bool toServer) {
  if (!active_ || m.size() < 32) return;
  std::uint8_t sent = m[0] & 0x80, code = m[0] & 0x7f;
  if (code == kGenericEvent) {
    const ExtensionMapping* e = extensionForMajor(m[1], !toServer);
    if (!e) return;
    m[1] = toServer ? e->serverMajor : e->clientMajor;
    if (e->layout)
      if (const MessageLayout* l = findEvent(*e->layout, get16(&m[8]), true))
        message(m, *l, 0, toServer);
    return;
  }
  if (code < 64) {
    if (code == kClientMessage && m[1] == 32) {
      // The type first, in the view the data is read in.
      std::uint32_t type = get32(&m[8]);
      std::uint32_t clientType = toServer ? type : atomToClient(type);
      if (clientType && clientType == wmProtocols_)
        put32(&m[12], map(IdKind::Atom, get32(&m[12]), toServer));
      if (clientType && clientType == netWmState_)
        for (std::size_t at : {16, 20}) put32(&m[at], map(IdKind::Atom, get32(&m[at]), toServer));
    }
    if (code != kKeymapNotify)
      if (const MessageLayout* l = findEvent(coreProtocol(), code, false))
        message(m, *l, 0, toServer);
    return;
  }
  const ExtensionMapping* e = extensionForEvent(code, !toServer);
  if (!e) return;
  std::uint8_t number = std::uint8_t(code - (toServer ? e->clientEvent : e->serverEvent));
  m[0] = std::uint8_t(sent | ((toServer ? e->serverEvent : e->clientEvent) + number));
  if (e->layout)
    if (const MessageLayout* l = findEvent(*e->layout, number, false)) message(m, *l, 0, toServer);
}

void Translator::error(std::span<std::uint8_t> m) {
  if (!active_ || m.size() < 32) return;
  std::uint8_t code = m[1];
  if (code >= 128) {
    if (const ExtensionMapping* e = extensionForError(code, false))
      m[1] = std::uint8_t(code - e->serverError + e->clientError);
  }
  // Window, Pixmap, Atom, Cursor, Font, Drawable, Colormap, GContext, IDChoice
  // errors carry the id at fault.
  switch (code) {
    case 5:
      put32(&m[4], map(IdKind::Atom, get32(&m[4]), false));
      break;
    case 3:
    case 4:
    case 6:
    case 7:
    case 9:
    case 12:
    case 13:
    case 14:
      put32(&m[4], idToClient(get32(&m[4])));
      break;
    default:
      break;
  }
  if (m[10] >= 128)
    if (const ExtensionMapping* e = extensionForMajor(m[10], false)) m[10] = e->clientMajor;
}

std::uint8_t Translator::majorToServer(std::uint8_t major) const {
  if (const ExtensionMapping* e = extensionForMajor(major, true)) return e->serverMajor;
  return major;
}

const ExtensionMapping* Translator::extensionForMajor(std::uint8_t major, bool clientSide) const {
  for (const auto& e : exts_)
    if ((clientSide ? e.clientMajor : e.serverMajor) == major) return &e;
  return nullptr;
}

// The extension whose range of event (or error) codes holds `code`: the one
// with the highest first code at or below it.
const ExtensionMapping* Translator::extensionByBase(std::uint8_t code,
                                                    std::uint8_t ExtensionMapping::*first) const {
  const ExtensionMapping* best = nullptr;
  for (const auto& e : exts_)
    if (e.*first && e.*first <= code && (!best || e.*first > best->*first)) best = &e;
  return best;
}

const ExtensionMapping* Translator::extensionForEvent(std::uint8_t code, bool clientSide) const {
  return extensionByBase(
      code, clientSide ? &ExtensionMapping::clientEvent : &ExtensionMapping::serverEvent);
}

const ExtensionMapping* Translator::extensionForError(std::uint8_t code, bool clientSide) const {
  return extensionByBase(
      code, clientSide ? &ExtensionMapping::clientError : &ExtensionMapping::serverError);
}

void Translator::hideInQueryExtension(std::span<std::uint8_t> r) {
  if (r.size() < 8 || r[0] != op::QueryExtension) return;
  std::size_t len = get16(&r[4]);
  if (8 + len > r.size() || len == 0) return;
  std::string_view name(reinterpret_cast<const char*>(&r[8]), len);
  if (extensionCarried(name)) return;
  // A name no server has, of the same length: the server itself answers
  // "not present", and the request keeps its size and sequence number.
  r[8] = '!';
}

std::size_t Translator::hideInListExtensions(std::span<std::uint8_t> m) {
  // names_len at 1; STRs (length byte + name) from 32.
  if (m.size() < 32) return m.size();
  std::uint8_t count = m[1], kept = 0;
  std::size_t in = 32, out = 32;
  for (std::uint8_t i = 0; i < count && in < m.size(); ++i) {
    std::size_t len = m[in];
    if (in + 1 + len > m.size()) break;
    std::string_view name(reinterpret_cast<const char*>(&m[in + 1]), len);
    if (extensionCarried(name)) {
      std::memmove(&m[out], &m[in], 1 + len);
      out += 1 + len;
      ++kept;
    }
    in += 1 + len;
  }
  std::size_t padded = (out + 3) & ~std::size_t(3);
  std::fill(m.begin() + std::ptrdiff_t(out), m.begin() + std::ptrdiff_t(padded), 0);
  m[1] = kept;
  put32(&m[4], std::uint32_t((padded - 32) / 4));
  return padded;
}

}  // namespace ckpt::x11
