// The client keeps the view of the X server it got at connection setup: its
// resource ids, atoms, visuals, extension opcodes and event bases. After a
// reattach the proxy talks to another server, whose numbers differ; the
// Translator rewrites every message in place between the two views, using
// the generated protocol tables for where ids sit. Until the first reattach
// both views are one and nothing is rewritten.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "x11proxy/proto/ServerView.hpp"
#include "x11proxy/proto/Tables.hpp"

namespace ckpt::x11 {

// One extension as the client knows it and as the current server has it.
struct ExtensionMapping {
  std::string name;
  const ExtensionLayout* layout = nullptr;
  std::uint8_t clientMajor = 0, serverMajor = 0;
  std::uint8_t clientEvent = 0, serverEvent = 0;  // first event (0: none)
  std::uint8_t clientError = 0, serverError = 0;  // first error (0: none)
};

// Extensions a client may see: those whose state the proxy carries across a
// reattach (the modules its tables are generated from). Every other one is
// reported absent, so the client falls back to what the core protocol does.
bool extensionCarried(std::string_view name);

class Translator {
 public:
  bool active() const { return active_; }

  // From now on the client's view `client` maps onto `server`. `atoms` maps
  // every atom the client may hold (client value → server value); `exts`
  // every extension it has looked up. Predefined atoms (1-68) map to themselves.
  void attach(const ServerView& client, const ServerView& server,
              std::map<std::uint32_t, std::uint32_t> atoms, std::vector<ExtensionMapping> exts,
              std::uint32_t nextClientAtom);

  // Timestamps: the client's = the server's + `offset` (mod 2^32); 0 until
  // the first reattach (ServerTime.hpp).
  void setTimeOffset(std::uint32_t offset) { timeOffset_ = offset; }
  std::uint32_t timeOffset() const { return timeOffset_; }

  // RENDER picture formats: client id → the like format's id on the server
  // (PictFormats.hpp). A server format the client has not seen gets a
  // client id of its own, above every client format id.
  void setPictFormats(std::map<std::uint32_t, std::uint32_t> toServer);
  std::uint32_t formatToServer(std::uint32_t f) const;
  std::uint32_t formatToClient(std::uint32_t f);

  // Pixel values, when the default colormap's pixels differ between the
  // servers (ColorCells.hpp): client pixel → server pixel. Applied to the
  // pixels of GCs (foreground, background), windows (background, border),
  // the colour requests, and ZPixmap images of the default depth; replies
  // giving the client new pixels get values of the client's own where a
  // server pixel would collide with one it already uses.
  void setPixels(std::map<std::uint32_t, std::uint32_t> toServer, std::uint32_t entries);
  std::uint32_t pixelToServer(std::uint32_t p) const;
  std::uint32_t pixelToClient(std::uint32_t p);
  // The client's value of a server pixel it already has (else the pixel itself).
  std::uint32_t knownPixelToClient(std::uint32_t p) const;
  bool mapsPixels() const { return pixelEntries_ != 0; }
  // A GetImage reply to a ZPixmap request: an image of the default depth
  // gets the client's pixel values.
  void zPixmapImageReply(std::span<std::uint8_t> reply);

  // The client's values of the atoms whose ClientMessage data holds atoms.
  void setClientAtomNames(const std::map<std::string, std::uint32_t>& byName);

  std::uint32_t idToServer(std::uint32_t id) const;
  std::uint32_t idToClient(std::uint32_t id) const;
  std::uint32_t atomToServer(std::uint32_t atom) const;
  // A server atom the client has not seen yet gets a client value of its own,
  // above every value the client knows.
  std::uint32_t atomToClient(std::uint32_t atom);
  std::uint32_t visualToServer(std::uint32_t v) const;
  std::uint32_t visualToClient(std::uint32_t v) const;
  const std::map<std::uint32_t, std::uint32_t>& atomsToServer() const { return atomToServer_; }
  std::uint8_t majorToServer(std::uint8_t major) const;

  // Client → server, in place. `layout` is the request's table (nullptr: unknown).
  void request(std::span<std::uint8_t> r, const RequestLayout* layout);
  // Server → client, in place (sequence numbers excluded: see SequenceMap).
  // `layout` is the table of the request the reply answers.
  void reply(std::span<std::uint8_t> m, const RequestLayout* layout);
  void event(std::span<std::uint8_t> m, bool toServer);
  void error(std::span<std::uint8_t> m);
  // QueryExtension and ListExtensions replies: hide what is not carried.
  // Applies whether attached or not.
  static void hideInQueryExtension(std::span<std::uint8_t> request);
  static std::size_t hideInListExtensions(std::span<std::uint8_t> reply);

 private:
  std::uint32_t map(IdKind kind, std::uint32_t v, bool toServer);
  void fields(std::span<std::uint8_t> m, std::span<const IdField> ids, std::size_t base,
              std::size_t shift, bool toServer);
  void message(std::span<std::uint8_t> m, const MessageLayout& layout, std::size_t shift,
               bool toServer);
  void propertyData(std::span<std::uint8_t> data, std::uint32_t clientType, std::uint8_t format,
                    bool toServer);
  const ExtensionMapping* extensionByBase(std::uint8_t code,
                                          std::uint8_t ExtensionMapping::*first) const;
  const ExtensionMapping* extensionForEvent(std::uint8_t code, bool clientSide) const;
  const ExtensionMapping* extensionForError(std::uint8_t code, bool clientSide) const;
  const ExtensionMapping* extensionForMajor(std::uint8_t major, bool clientSide) const;

  bool active_ = false;
  ServerView client_, server_;
  std::map<std::uint32_t, std::uint32_t> atomToServer_, atomToClient_;
  std::map<std::uint32_t, std::uint32_t> visualToServer_, visualToClient_;
  std::map<std::uint32_t, std::uint32_t> formatToServer_, formatToClient_;
  std::uint32_t nextClientFormat_ = 0;
  std::map<std::uint32_t, std::uint32_t> pixelToServer_, pixelToClient_;
  std::uint32_t pixelEntries_ = 0;  // the default colormap's size (0: pixels are not mapped)
  void pixels(std::span<std::uint8_t> r, std::size_t shift, bool toServer);
  std::vector<ExtensionMapping> exts_;
  std::uint32_t nextClientAtom_ = 0;
  std::uint32_t timeOffset_ = 0;
  std::uint32_t wmProtocols_ = 0, netWmState_ = 0;  // client values, for ClientMessage data
};

}  // namespace ckpt::x11
