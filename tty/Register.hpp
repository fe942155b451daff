// Plugs the tty layer into core: its fd kind (terminals) and its part in
// every restore. cli/ calls this once at startup.
#pragma once

namespace ckpt::tty {
void registerWithCore();
}
