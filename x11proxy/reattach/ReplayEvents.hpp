// The events a reattach makes the client see, and those it must not see.
// From the client's view its windows never went away: the replay's
// CreateNotify, PropertyNotify and the MapNotify of windows inside its
// top-levels would tell it of changes that did not happen. Its top-level
// windows do leave one screen and appear on another, though, and a window
// manager there may reparent and map them: the client is told they were
// unmapped (UnmapNotify) before the switch, so the MapNotify that follows
// (from the replay, or the window manager) makes sense to toolkits that
// count them (GTK freezes drawing on unmap and thaws on map).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "x11proxy/model/ClientModel.hpp"

namespace ckpt::x11 {

// UnmapNotify events for each mapped top-level window (its parent is not the
// client's), to the window itself when the client selected StructureNotify on
// it and to the root when it selected SubstructureNotify there; `sequence` is
// the client's last request.
std::vector<std::vector<std::uint8_t>> unmapNotifiesBeforeMove(const ClientModel& m,
                                                               std::uint32_t root,
                                                               std::uint16_t sequence);

// MappingNotify for the keyboard (its whole keycode range), the modifiers
// and the pointer buttons, sent once the client is on the new server: its
// toolkit reads the mappings again, which may differ there.
std::vector<std::vector<std::uint8_t>> mappingNotifiesAfterMove(std::uint8_t minKeycode,
                                                                std::uint8_t maxKeycode,
                                                                std::uint16_t sequence);

// Is this event (in the client's view, from the new server while the replay
// runs) only an echo of the replay?
bool replayEcho(const ClientModel& m, std::span<const std::uint8_t> event);

}  // namespace ckpt::x11
