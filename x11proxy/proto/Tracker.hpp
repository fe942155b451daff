// Follows one client connection message by message, in both directions:
// sequence numbers, the replies still owed, the extensions the client has
// looked up (major opcodes, event and error bases), and the resource model.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "x11proxy/model/ClientModel.hpp"
#include "x11proxy/model/HeldResources.hpp"
#include "x11proxy/proto/Tables.hpp"

namespace ckpt::x11 {

// The values present in a value list, in mask-bit order (pairs of bit, value).
std::vector<std::pair<std::uint32_t, std::uint32_t>> decodeValues(
    const ValueListLayout& layout, std::span<const std::uint8_t> request);

struct ExtensionUse {
  const ExtensionLayout* layout = nullptr;  // nullptr: one the proxy has no tables for
  std::string name;
  std::uint8_t major = 0, firstEvent = 0, firstError = 0;
};

class Tracker {
 public:
  // One complete request, as the client sent it (BIG-REQUESTS form included).
  void clientRequest(std::span<const std::uint8_t> request);
  // One complete reply, event or error from the server.
  void serverMessage(std::span<const std::uint8_t> message);

  // Before clientRequest: a free of a pixmap or picture something still
  // uses becomes a NoOperation in place, and the id is held (HeldResources).
  bool holdFree(std::span<std::uint8_t> request);
  // After a request that may have dropped the last use of a held id: the
  // frees the proxy sends for them now (client view, in order), already
  // applied to the model.
  std::vector<std::vector<std::uint8_t>> releaseHeld();
  std::size_t held() const { return held_.size(); }

  const ClientModel& model() const { return model_; }
  // After a reattach to a server whose keys have other codes: the passive key
  // grabs name the new server's keycodes (KeyboardMap.hpp).
  void remapGrabbedKeycodes(const std::map<std::uint8_t, std::uint8_t>& remap) {
    model_.remapGrabbedKeycodes(remap);
  }
  std::uint32_t requests() const { return sequence_; }
  std::uint64_t replies() const { return replies_; }
  std::uint64_t events() const { return events_; }
  std::uint64_t errors() const { return errors_; }
  std::size_t repliesOwed() const { return pending_.size(); }
  const std::map<std::uint8_t, ExtensionUse>& extensions() const { return byMajor_; }
  // The table of the request still owed a reply with this sequence number.
  const RequestLayout* layoutFor(std::uint16_t seq) const;
  // The second byte of the core request still owed a reply with this
  // sequence number (GetImage's format, ...), if it is one.
  std::optional<std::uint8_t> coreDataFor(std::uint16_t seq) const;
  // The table of the request with this major/minor opcode, if known.
  const RequestLayout* requestLayout(std::uint8_t major, std::uint8_t minor) const;

 private:
  struct Pending {
    std::uint32_t sequence;
    std::uint8_t major, minor;
    std::string name;            // InternAtom's atom name, QueryExtension's extension name
    std::uint32_t colormap = 0;  // the colour requests'
  };
  void modelRequest(std::span<const std::uint8_t> r);
  void modelExtensionRequest(const std::string& ext, std::span<const std::uint8_t> r);
  void modelRegionUse(std::span<const std::uint8_t> r);
  void modelReply(const Pending& p, std::span<const std::uint8_t> reply);

  std::uint8_t renderMajor() const;
  // A drawing request: it changes pixels only, nothing the model keeps.
  bool onlyDraws(std::uint8_t major, std::uint8_t minor) const;

  ClientModel model_;
  HeldResources held_;
  bool mayRelease_ = false;     // a request since the last releaseHeld() dropped a reference
  std::uint32_t sequence_ = 0;  // of the last request sent
  std::deque<Pending> pending_;
  std::map<std::uint8_t, ExtensionUse> byMajor_;
  std::uint64_t replies_ = 0, events_ = 0, errors_ = 0;
};

}  // namespace ckpt::x11
