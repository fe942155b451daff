#include "VncDesktop.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "core/util/UniqueFd.hpp"
#include "picture/Png.hpp"
#include "vnc/desktop/Desktop.hpp"
#include "vnc/rfb/Snapshot.hpp"

namespace ckpt::test {
namespace {

// The session: twm with ckpt's twmrc, an xterm holding a line of text and a
// shell (no blinking cursor), xlogo and xcalc: nothing on it moves.
constexpr const char* kSession = R"SH(
xterm -geometry 60x12+0+0 -e /bin/sh -c 'echo text before the dump; touch "$CKPT_VNC_DIR/xterm-ready"; PS1="$ " exec /bin/sh' &
xlogo -geometry 120x120+420+0 &
xcalc -geometry +560+0 &
exec twm -f "$CKPT_VNC_DIR/twmrc"
)SH";

// A display from a number of this test process's own, clear of the other
// suites' X servers; a display whose lock file or socket exists (a dumped
// desktop's too) counts as taken.
int freeDisplay() {
  for (int n = 1000 + getpid() % 4000; n < 6000; ++n)
    if (!std::filesystem::exists("/tmp/.X" + std::to_string(n) + "-lock") &&
        !std::filesystem::exists("/tmp/.X11-unix/X" + std::to_string(n)))
      return n;
  throw std::runtime_error("no free X display");
}

// Every window of the session is mapped and viewable (twm has framed it):
// xwininfo alone would list windows that are created but not yet shown.
bool windowsShown(int display) {
  for (const char* cls : {"xterm", "xlogo", "xcalc"}) {
    std::string cmd = "DISPLAY=:" + std::to_string(display) +
                      " xdotool search --onlyvisible --class " + cls + " >/dev/null 2>&1";
    if (system(cmd.c_str()) != 0) return false;
  }
  return true;
}

}  // namespace

std::string comparePictures(const picture::Frame& a, const picture::Frame& b,
                            const std::string& name) {
  if (a == b) return "";
  if (a.width != b.width || a.height != b.height)
    return "sizes differ: " + std::to_string(a.width) + "x" + std::to_string(a.height) + " and " +
           std::to_string(b.width) + "x" + std::to_string(b.height);
  int n = 0, x0 = a.width, y0 = a.height, x1 = -1, y1 = -1;
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x) {
      size_t i = (size_t(y) * size_t(a.width) + size_t(x)) * 3;
      if (a.rgb[i] == b.rgb[i] && a.rgb[i + 1] == b.rgb[i + 1] && a.rgb[i + 2] == b.rgb[i + 2])
        continue;
      ++n;
      x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    }
  // Kept for a person to look at: the test's folder goes away.
  const std::string dir = "/tmp/ckpt-vnc-test-pictures";
  std::filesystem::create_directories(dir);
  picture::writePngFile(dir + "/" + name + "-expected.png", a);
  picture::writePngFile(dir + "/" + name + "-got.png", b);
  return std::to_string(n) + " pixels differ, in (" + std::to_string(x0) + "," +
         std::to_string(y0) + ")-(" + std::to_string(x1) + "," + std::to_string(y1) +
         "); both pictures are in " + dir + "/" + name + "-*.png";
}

bool waitForEntry(const std::string& dir, const std::string& name, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  UniqueFd in(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!in || inotify_add_watch(in.get(), dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_ATTRIB) < 0)
    return false;
  for (;;) {
    if (std::filesystem::exists(dir + "/" + name)) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{in.get(), POLLIN, 0};
    if (poll(&p, 1, int(left.count())) > 0) {
      char buf[4096];
      while (read(in.get(), buf, sizeof buf) > 0) {
      }
    }
  }
}

bool waitGone(const std::vector<pid_t>& pids) {
  return waitUntil([&] {
    for (pid_t p : pids)
      if (pidExists(p)) return false;
    return true;
  });
}

VncDesktop::VncDesktop(Harness& h, const std::string& passwordFile) : h_(h) {
  display_ = freeDisplay();
  port_ = freeLoopbackPort();
  const std::string pidfile = h.dir() + "/desktop.pid";
  std::vector<std::string> args{"vnc",        "run",
                                "--display",  ":" + std::to_string(display_),
                                "--rfbport",  std::to_string(port_),
                                "--geometry", "800x600",
                                "--pidfile",  pidfile};
  if (!passwordFile.empty()) {
    args.push_back("--password-file");
    args.push_back(passwordFile);
  }
  args.insert(args.end(), {"--", "/bin/sh", "-c", kSession});
  gateway_ = h.startCkpt(args);
  if (!waitForFile(h.dir(), [&] { return readFile(pidfile).find('\n') != std::string::npos; }))
    throw std::runtime_error("ckpt vnc run wrote no pidfile\n" + h.report());
  root_ = std::stoi(readFile(pidfile));
  if (!waitUntil([&] { return windowsShown(display_); }, Seconds(20)))
    throw std::runtime_error("the desktop's windows never showed\n" + h.report());
  tree_ = Harness::treePids(root_);
  for (pid_t p : tree_) {
    std::string sock = vnc::rfbSocketOfXvnc(readFile("/proc/" + std::to_string(p) + "/cmdline"));
    if (!sock.empty()) rfbSocket_ = sock;
  }
  if (rfbSocket_.empty()) throw std::runtime_error("no Xvnc with -rfbunixpath in the tree");
  // The xterm's shell runs (its terminal is open on both sides).
  if (!waitForEntry(rfbSocket_.substr(0, rfbSocket_.rfind('/')), "xterm-ready", Seconds(20)))
    throw std::runtime_error("the xterm's shell never started\n" + h.report());
  tree_ = Harness::treePids(root_);
}

VncDesktop::~VncDesktop() {
  if (gateway_.pid > 0) {
    kill(gateway_.pid, SIGTERM);
    h_.finish(gateway_, Seconds(20));
  }
}

picture::Frame VncDesktop::direct() const {
  return vnc::takeSnapshot(vnc::Address{"", 0, rfbSocket_}, "");
}

picture::Frame VncDesktop::viaGateway(const std::string& password) const {
  return vnc::takeSnapshot(vnc::Address{"127.0.0.1", port_, ""}, password);
}

picture::Frame VncDesktop::stillPicture() const {
  picture::Frame last;
  if (!waitUntil(
          [&] {
            picture::Frame now = direct();
            // The same twice, and drawn: a screen of one colour is not yet.
            bool drawn = std::any_of(now.rgb.begin(), now.rgb.end(),
                                     [&](uint8_t v) { return v != now.rgb.front(); });
            bool same = drawn && now == last;
            last = std::move(now);
            return same;
          },
          Seconds(20)))
    throw std::runtime_error("the desktop's picture never held still");
  return last;
}

void VncDesktop::typeLine(vnc::RfbConnection& conn, const std::string& text) {
  // twm gives the focus to the window under the pointer: the xterm.
  conn.sendPointer(150, 100, 0);
  for (char c : text) {
    conn.sendKey(uint32_t(static_cast<unsigned char>(c)), true);
    conn.sendKey(uint32_t(static_cast<unsigned char>(c)), false);
  }
  conn.sendKey(0xff0d, true);  // XK_Return
  conn.sendKey(0xff0d, false);
}

}  // namespace ckpt::test
