// The requests that make a client's recorded state again on a new server,
// in the client's view (its ids and atoms; the Translator maps them) and in
// dependency order: each extension's version handshake (and BIG-REQUESTS'
// enable), fonts, pixmaps with their contents, GCs,
// colormaps, windows (parents first), their properties and shapes, RENDER
// objects and cursors in the order they were made, window cursors, the
// client's event selections on the root, and last the map state, so that
// the server sends Expose for every mapped window and the client redraws.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "x11proxy/model/ClientModel.hpp"
#include "x11proxy/proto/ServerView.hpp"
#include "x11proxy/reattach/ServerFetch.hpp"

namespace ckpt::x11 {

struct ReplayPlan {
  // Requests in the normalised form (a 16-bit length of 0 and no extra
  // length word for big ones): encodeRequest() gives the wire form.
  std::vector<std::vector<std::uint8_t>> requests;
  std::vector<std::string> warnings;
};

struct ReplayInput {
  const ClientModel& model;
  const ServerView& client;     // the client's view of the server
  const FetchedState& fetched;  // atom names, pixmap contents (and their server's view)
  const ServerView& target;     // the server replayed onto (its image formats)
  // Fonts the target lacks → the names to open instead (FontSubstitutes.hpp).
  const std::map<std::string, std::string>& fontSubstitutes = kNoSubstitutes;
  static inline const std::map<std::string, std::string> kNoSubstitutes{};
};

ReplayPlan planReplay(const ReplayInput& in);

// The wire form of a normalised request: the 16-bit length, or BIG-REQUESTS'
// 32-bit one when it does not fit.
std::vector<std::uint8_t> encodeRequest(std::vector<std::uint8_t> normalised);

}  // namespace ckpt::x11
