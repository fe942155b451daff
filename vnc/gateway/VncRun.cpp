#include "vnc/gateway/VncRun.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "core/util/UniqueFd.hpp"
#include "vnc/desktop/Desktop.hpp"
#include "vnc/gateway/ViewerServer.hpp"
#include "vnc/rfb/RfbConnection.hpp"
#include "vnc/rfb/Snapshot.hpp"

namespace ckpt::vnc {
namespace {

using Clock = std::chrono::steady_clock;

// Between attempts to reach a desktop that is gone: the socket folder is
// watched too, so this only bounds how long a missed event can delay it.
constexpr int kRetryMs = 250;

std::pair<int, int> parseGeometry(const std::string& g) {
  int w = 0, h = 0, used = 0;
  if (std::sscanf(g.c_str(), "%dx%d%n", &w, &h, &used) != 2 || size_t(used) != g.size() || w < 16 ||
      h < 16 || w > 16384 || h > 16384)
    throw Error(fmt::format("vnc run: --geometry '{}': expected WIDTHxHEIGHT, e.g. 1280x800", g));
  return {w, h};
}

// Signals the gateway handles in its loop (blocked in every thread).
class SignalFd {
 public:
  SignalFd() {
    sigemptyset(&set_);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&set_, s);
    if (sigprocmask(SIG_BLOCK, &set_, &old_) != 0) throwErrno("vnc run: sigprocmask");
    fd_.reset(signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd_) throwErrno("vnc run: signalfd");
  }
  ~SignalFd() { sigprocmask(SIG_SETMASK, &old_, nullptr); }
  int fd() const { return fd_.get(); }
  // The next pending signal, 0 if none.
  int next() {
    signalfd_siginfo si{};
    return ::read(fd_.get(), &si, sizeof si) == ssize_t(sizeof si) ? int(si.ssi_signo) : 0;
  }

 private:
  sigset_t set_{}, old_{};
  UniqueFd fd_;
};

// The link to the desktop, shared with libvncserver's threads (viewers'
// keys and pointer) under one mutex.
class DesktopLink {
 public:
  DesktopLink(std::string socket, ViewerServer*& server)
      : socket_(std::move(socket)), server_(server) {}

  // Tries once; true when connected (the viewers get a whole frame next).
  bool connect() {
    struct stat st {};
    if (::stat(socket_.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
    std::unique_ptr<RfbConnection> c;
    try {
      // A connection made while the desktop is being restored can go
      // unanswered: give up soon and try again.
      c = std::make_unique<RfbConnection>(Address{"", 0, socket_}, "", std::chrono::seconds(1));
    } catch (const Error& e) {
      log::debug("vnc run: desktop not back yet: {}", e.what());
      return false;
    }
    RfbConnection* raw = c.get();
    c->onResize = [this](int w, int h) {
      if (server_) server_->resize(w, h);
    };
    c->onRect = [this, raw](int x, int y, int w, int h) {
      if (server_) server_->update(raw->pixels(), raw->width(), x, y, w, h);
    };
    c->onUpdateDone = [this] {
      if (!wantAll_ || !server_) return;
      wantAll_ = false;
      server_->sendAll();
      if (lostAt_) {
        log::info("vnc run: the desktop is back; viewers saw it frozen for {:.0f} ms",
                  std::chrono::duration<double, std::milli>(Clock::now() - *lostAt_).count());
        lostAt_.reset();
      }
    };
    if (server_) server_->resize(c->width(), c->height());
    std::lock_guard lock(m_);
    conn_ = std::move(c);
    wantAll_ = true;
    return true;
  }

  int fd() {
    std::lock_guard lock(m_);
    return conn_ ? conn_->fd() : -1;
  }
  int width() {
    std::lock_guard lock(m_);
    return conn_ ? conn_->width() : 0;
  }
  int height() {
    std::lock_guard lock(m_);
    return conn_ ? conn_->height() : 0;
  }

  // Handles what the desktop sent; on a dropped connection the viewers keep
  // the last picture and the link waits for the desktop to come back.
  void handle() {
    std::lock_guard lock(m_);
    if (!conn_ || conn_->handleMessages()) return;
    conn_.reset();
    lostAt_ = Clock::now();
    log::info(
        "vnc run: the desktop's connection closed (dumped with --kill?); viewers keep the last "
        "picture until it is back");
  }

  void key(uint32_t keysym, bool down) {
    std::lock_guard lock(m_);
    if (conn_) conn_->sendKey(keysym, down);
  }
  void pointer(int x, int y, int buttons) {
    std::lock_guard lock(m_);
    if (conn_) conn_->sendPointer(x, y, buttons);
  }
  void close() {
    std::lock_guard lock(m_);
    conn_.reset();
  }

 private:
  std::string socket_;
  ViewerServer*& server_;
  std::mutex m_;
  std::unique_ptr<RfbConnection> conn_;
  bool wantAll_ = false;
  std::optional<Clock::time_point> lostAt_;
};

// Stops what is left of the desktop: SIGTERM to its process group (Xvnc
// then removes its socket and lock files), SIGKILL after a grace period;
// reaps our children (the root, and Xvnc once orphaned to us as subreaper).
void stopDesktop(pid_t root, SignalFd& signals) {
  kill(-root, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  bool killed = false;
  for (;;) {
    pid_t p = waitpid(-1, nullptr, WNOHANG);
    if (p > 0) continue;
    if (p < 0) break;  // ECHILD: nothing of ours is left
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 && !killed) {
      kill(-root, SIGKILL);
      killed = true;
      continue;
    }
    pollfd pf{signals.fd(), POLLIN, 0};
    ::poll(&pf, 1, killed ? 1000 : int(left.count()));
    while (signals.next() != 0) {
    }
  }
}

}  // namespace

int runVnc(const VncRunOptions& opts) {
  auto [width, height] = parseGeometry(opts.geometry);
  if (opts.depth != 16 && opts.depth != 24 && opts.depth != 32)
    throw Error(fmt::format("vnc run: --depth {}: expected 16, 24 or 32", opts.depth));
  const std::string password = opts.passwordFile.empty() ? "" : readPasswordFile(opts.passwordFile);

  // Kept after ckpt vnc run ends: an image of the desktop needs its socket
  // folder and its log file to be restored.
  char tmpl[] = "/tmp/ckpt-vnc-XXXXXX";
  if (!mkdtemp(tmpl)) throwErrno("vnc run: create a private folder under /tmp");
  const std::string dir = tmpl;

  SignalFd signals;
  // Processes of the desktop orphaned when its root dies (Xvnc, after a dump
  // --kill) come to us and are reaped at once: a zombie would keep its pid
  // taken and the restore would fail.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  DesktopOptions dopts;
  dopts.display = opts.display;
  dopts.geometry = opts.geometry;
  dopts.depth = opts.depth;
  dopts.session = opts.session;
  dopts.dir = dir;
  Desktop desk = startDesktop(dopts);
  const pid_t root = desk.root;
  struct StopOnError {
    pid_t root;
    SignalFd& signals;
    bool armed = true;
    ~StopOnError() {
      if (armed) stopDesktop(root, signals);
    }
  } stopOnError{root, signals};

  if (!opts.pidfile.empty()) {
    std::ofstream out(opts.pidfile);
    if (!(out << root << "\n") || !out.flush())
      throw Error(fmt::format("vnc run: cannot write the pidfile {}", opts.pidfile));
  }

  ViewerServer* serverPtr = nullptr;
  DesktopLink link(desk.rfbSocket, serverPtr);
  if (!link.connect())
    throw Error(fmt::format("vnc run: the desktop on :{} does not answer on {}; see {}",
                            desk.display, desk.rfbSocket, desk.logFile));
  ViewerServerOptions sopts;
  sopts.port = opts.rfbport >= 0 ? opts.rfbport : 5900 + desk.display;
  sopts.password = password;
  sopts.width = link.width() > 0 ? link.width() : width;
  sopts.height = link.height() > 0 ? link.height() : height;
  sopts.name = fmt::format("ckpt desktop :{}", desk.display);
  ViewerServer server(
      sopts, [&](uint32_t k, bool down) { link.key(k, down); },
      [&](int x, int y, int b) { link.pointer(x, y, b); });
  serverPtr = &server;
  struct Unlink {
    ViewerServer*& p;
    ~Unlink() { p = nullptr; }
  } unlinkServer{serverPtr};

  std::printf("ckpt vnc: desktop :%d (pid %d), viewers on %s:%d%s\n", desk.display, int(root),
              password.empty() ? "127.0.0.1" : "*", sopts.port,
              password.empty() ? " (no password: this machine only)" : "");
  std::fflush(stdout);

  UniqueFd watch(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (watch) inotify_add_watch(watch.get(), dir.c_str(), IN_CREATE | IN_ATTRIB | IN_MOVED_TO);

  int status = 0;
  for (;;) {
    int up = link.fd();
    pollfd fds[3] = {{signals.fd(), POLLIN, 0}, {watch.get(), POLLIN, 0}, {up, POLLIN, 0}};
    int n = ::poll(fds, up >= 0 ? 3 : 2, up >= 0 ? -1 : kRetryMs);
    if (n < 0 && errno != EINTR) throwErrno("vnc run: poll");
    bool stop = false;
    for (int sig; (sig = signals.next()) != 0;) {
      if (sig != SIGCHLD) {
        log::info("vnc run: signal {}: stopping the desktop", sig);
        stop = true;
        continue;
      }
      int st = 0;
      for (pid_t p; (p = waitpid(-1, &st, WNOHANG)) > 0;) {
        if (p != root) continue;
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
          // What `ckpt dump --kill` does: wait for the restore.
          log::info("vnc run: the desktop (pid {}) was killed; waiting for it to be restored",
                    root);
        } else {
          status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          log::info("vnc run: the session (pid {}) ended with status {}", root, status);
          stop = true;
        }
      }
    }
    if (stop) break;
    if (up >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) link.handle();
    if (watch && (fds[1].revents & POLLIN)) {
      char buf[4096];
      while (::read(watch.get(), buf, sizeof buf) > 0) {
      }
    }
    if (link.fd() < 0 && (n == 0 || (fds[1].revents & POLLIN))) link.connect();
  }
  link.close();
  stopOnError.armed = false;
  stopDesktop(root, signals);
  return status;
}

}  // namespace ckpt::vnc
