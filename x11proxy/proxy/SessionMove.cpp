// Moving a client connection to another X server (Session::moveTo): drain
// the old server, read what only it knows, connect to the new one, map the
// client's view onto it, replay the model, and switch.
#include <poll.h>
#include <time.h>

#include <chrono>
#include <cstdlib>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "x11proxy/proto/CoreOpcodes.hpp"
#include "x11proxy/proto/Wire.hpp"
#include "x11proxy/proxy/Session.hpp"
#include "x11proxy/reattach/ColorCells.hpp"
#include "x11proxy/reattach/FontSubstitutes.hpp"
#include "x11proxy/reattach/KeyboardMap.hpp"
#include "x11proxy/reattach/Replay.hpp"
#include "x11proxy/reattach/ReplayEvents.hpp"
#include "x11proxy/reattach/ServerFetch.hpp"
#include "x11proxy/reattach/ServerTime.hpp"

namespace ckpt::x11 {
namespace {

// How long an old server may take to answer what the client sent before the
// move; a server grabbed by another client may not answer at all.
constexpr auto kDrainTimeout = std::chrono::seconds(5);

struct FreeReply {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

void Session::drain() {
  bool answered = false;
  sendOwnRequest({op::GetInputFocus, 0, 1, 0},
                 [&](std::span<const std::uint8_t>) { answered = true; });
  auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  while (!answered) {
    if (serverEof_) throw Error("x11: the X server " + server_.display + " went away");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw Error("x11: the X server " + server_.display +
                  " did not answer within 5 s (grabbed by another client?): try again");
    pollfd fds[2] = {{serverFd(), short(POLLIN | (toServer_.pendingWrite() ? POLLOUT : 0)), 0},
                     {client_.get(), short(toClient_.pendingWrite() ? POLLOUT : 0), 0}};
    if (::poll(fds, 2, int(left.count())) < 0 && errno != EINTR) throwErrno("poll");
    if (fds[0].revents && !onServer(fds[0].revents))
      throw Error("x11: the connection to " + server_.display + " ended during the move");
    if (fds[1].revents & POLLOUT) onClient(POLLOUT);
  }
}

std::vector<std::string> Session::moveTo(const ServerAddress& to) {
  if (!ready()) throw Error("x11: the connection is still being set up");
  // Everything the client sent reaches the old server and is answered; from
  // here until the switch the client's requests wait in its socket.
  drain();
  // What only the old server knows, over a connection of the proxy's own.
  Upstream side(server_.display, server_.xauthority);
  return switchTo(to, fetchFromServer(side, tracker_.model(), translator_));
}

void Session::prepareCheckpoint() {
  if (!ready()) throw Error("x11: a connection is still being set up: try again");
  drain();
  Upstream side(server_.display, server_.xauthority);
  checkpoint_ = fetchFromServer(side, tracker_.model(), translator_);
}

std::vector<std::string> Session::reattach(const ServerAddress& to) {
  if (!checkpoint_) throw Error("x11: reattach without a checkpoint");
  FetchedState saved = std::move(*checkpoint_);
  checkpoint_.reset();
  // The connection the image holds is closed: whatever it still buffered
  // from the old server is gone with it.
  return switchTo(to, saved);
}

std::map<std::uint32_t, std::uint32_t> Session::pictFormatsOn(xcb_connection_t* c,
                                                              const ServerView& view,
                                                              const std::string& display) const {
  if (clientPictFormats_.empty()) return {};
  auto map = matchPictFormats(clientPictFormats_, clientView_, queryPictFormats(c), view);
  // Every format the client made a picture or glyph set with must be there.
  if (auto missing = missingPictFormat(tracker_.model().renderObjects, clientPictFormats_, map);
      !missing.empty())
    throw Error("x11: " + display + " has " + missing);
  return map;
}

std::vector<std::string> Session::switchTo(const ServerAddress& to, const FetchedState& fetched) {
  // The new server, and the client's view mapped onto it. Nothing on either
  // server has changed yet: every check that can fail comes here.
  auto next = std::make_unique<Upstream>(to.display, to.xauthority);
  xcb_connection_t* c = next->xcb();
  const ServerView& view = next->view();
  for (const auto& [id, w] : tracker_.model().windows)
    if (const VisualInfo* v = clientView_.visual(w.visual); v && !view.matchVisual(*v))
      throw Error(
          fmt::format("x11: {} has no visual like 0x{:x} (depth {}, class {}) that "
                      "window 0x{:x} uses",
                      to.display, v->id, v->depth, v->visualClass, id));
  std::vector<std::pair<std::uint32_t, xcb_intern_atom_cookie_t>> atomCookies;
  for (const auto& [mine, name] : fetched.atomNames)
    atomCookies.emplace_back(mine, xcb_intern_atom(c, 0, std::uint16_t(name.size()), name.c_str()));
  std::vector<std::pair<const ExtensionUse*, xcb_query_extension_cookie_t>> extCookies;
  for (const auto& [major, use] : tracker_.extensions())
    extCookies.emplace_back(
        &use, xcb_query_extension(c, std::uint16_t(use.name.size()), use.name.c_str()));
  std::map<std::uint32_t, std::uint32_t> atoms;
  for (auto& [mine, cookie] : atomCookies) {
    std::unique_ptr<xcb_intern_atom_reply_t, FreeReply> r(
        xcb_intern_atom_reply(c, cookie, nullptr));
    if (!r) throw Error("x11: " + to.display + " did not intern the client's atoms");
    atoms[mine] = r->atom;
  }
  std::vector<ExtensionMapping> exts;
  for (auto& [use, cookie] : extCookies) {
    std::unique_ptr<xcb_query_extension_reply_t, FreeReply> r(
        xcb_query_extension_reply(c, cookie, nullptr));
    if (!r || !r->present)
      throw Error("x11: " + to.display + " lacks the " + use->name +
                  " extension, which the client uses");
    exts.push_back({use->name, use->layout, use->major, r->major_opcode, use->firstEvent,
                    r->first_event, use->firstError, r->first_error});
  }
  // Until the first move the client's formats are those of the server just read.
  if (!translator_.active()) clientPictFormats_ = fetched.pictFormats;
  auto formats = pictFormatsOn(c, view, to.display);
  std::vector<std::string> fontWarnings;
  auto substitutes = fontSubstitutes(c, tracker_.model(), fontWarnings);
  // The client's clock runs on from where the old server's was (ServerTime.hpp).
  std::uint32_t clientNow = fetched.serverTime + translator_.timeOffset();
  std::uint32_t timeOffset = clientNow - serverTime(c, view.root);
  // Key grabs follow their keysyms to the new server's keycodes.
  std::vector<std::uint8_t> lostKeys;
  std::map<std::uint8_t, std::uint8_t> keycodes;
  if (auto grabbed = tracker_.model().grabbedKeycodes(); !grabbed.empty())
    keycodes = keycodesToRemap(
        fetched.keyboard, fetchKeyboardMap(c, view.minKeycode, view.maxKeycode), grabbed, lostKeys);
  // The client's colours, where pixel values are handed out: allocated on
  // this connection, which becomes the client's.
  std::map<std::uint32_t, std::uint32_t> pixels;
  std::vector<std::string> colorWarnings;
  if (allocatesPixels(clientView_))
    pixels = allocateColorsAgain(c, tracker_.model(), clientView_, view, colorWarnings);
  // A last round trip: its number is how many requests the proxy has used.
  xcb_get_input_focus_cookie_t sync = xcb_get_input_focus(c);
  std::free(xcb_get_input_focus_reply(c, sync, nullptr));
  if (xcb_connection_has_error(c)) throw Error("x11: the connection to " + to.display + " failed");

  // From here on nothing fails: the model and the translator change.
  tracker_.remapGrabbedKeycodes(keycodes);
  ReplayPlan plan = planReplay({tracker_.model(), clientView_, fetched, view, substitutes});
  for (std::uint8_t k : lostKeys)
    plan.warnings.push_back(fmt::format(
        "keycode {} (keysym 0x{:x}) is grabbed, but no key of {} makes that keysym: the grab "
        "stays on keycode {}",
        k, fetched.keyboard.keysymOf(k), to.display, k));
  for (const auto& w : fetched.warnings) plan.warnings.push_back(w);
  for (const auto& w : fontWarnings) plan.warnings.push_back(w);
  for (const auto& w : colorWarnings) plan.warnings.push_back(w);

  // The switch: the old connection closes (the old server destroys what
  // the client made there), the replay goes first on the new one.
  std::uint32_t nextClientAtom = 69;
  for (const auto& [mine, name] : fetched.atomNames)
    nextClientAtom = std::max(nextClientAtom, mine + 1);
  translator_.attach(clientView_, view, std::move(atoms), std::move(exts), nextClientAtom);
  translator_.setClientAtomNames(tracker_.model().atomsByName);
  translator_.setTimeOffset(timeOffset);
  translator_.setPictFormats(std::move(formats));
  if (const VisualInfo* v = clientView_.visual(clientView_.rootVisual);
      v && allocatesPixels(clientView_))
    translator_.setPixels(std::move(pixels), std::max<std::uint32_t>(v->colormapEntries, 1));
  toClient_.dropUnparsed();
  for (const auto& e : unmapNotifiesBeforeMove(tracker_.model(), clientView_.root,
                                               std::uint16_t(tracker_.requests())))
    toClient_.insertParsed(e);
  ownReplies_.clear();
  sequences_.newServer(sync.sequence);
  upstream_ = std::move(next);
  server_ = to;
  serverEof_ = false;
  for (auto& request : plan.requests) sendOwnTranslated(encodeRequest(std::move(request)));
  replaying_ = true;
  sendOwnRequest({op::GetInputFocus, 0, 1, 0}, [this](std::span<const std::uint8_t>) {
    replaying_ = false;
    notifyMappings_ = true;
  });
  log::info("x11: moved a connection to {}: {} windows, {} pixmaps, {} requests replayed",
            to.display, tracker_.model().windows.size(), tracker_.model().pixmaps.size(),
            plan.requests.size());
  return plan.warnings;
}

}  // namespace ckpt::x11
