// The proxy's event loop: accept, forward, reap (see Proxy.hpp).
#include "x11proxy/proxy/Proxy.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <list>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "picture/Png.hpp"
#include "x11proxy/model/ModelJson.hpp"
#include "x11proxy/proxy/ControlSocket.hpp"
#include "x11proxy/proxy/ListenDisplay.hpp"
#include "x11proxy/proxy/ProxyHook.hpp"
#include "x11proxy/proxy/Session.hpp"

namespace ckpt::x11 {
namespace {

pid_t spawn(const std::vector<std::string>& command, int display, const std::string& auth,
            const sigset_t& oldMask) {
  pid_t pid = ::fork();
  if (pid < 0) throwErrno("fork");
  if (pid > 0) return pid;
  ::setenv("DISPLAY", (":" + std::to_string(display)).c_str(), 1);
  ::setenv("XAUTHORITY", auth.c_str(), 1);
  ::signal(SIGPIPE, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &oldMask, nullptr);
  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  std::fprintf(stderr, "ckpt: x11 run: cannot run %s: %s\n", argv[0], std::strerror(errno));
  ::_exit(127);
}

int exitStatus(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// `ckpt x11 move`: every connection moves to the new server, and later
// connections go there too.
nlohmann::json serveMove(const nlohmann::json& request, std::list<Session>& sessions,
                         ServerAddress& server) {
  const auto& move = request["move"];
  if (!move.is_object() || !move.contains("display") || !move["display"].is_string())
    return {{"ok", false}, {"error", "a move request needs a display"}};
  ServerAddress to{move["display"].get<std::string>(), move.value("xauthority", std::string())};
  nlohmann::json warnings = nlohmann::json::array();
  int moved = 0;
  for (auto& s : sessions) {
    if (!s.ready()) continue;
    try {
      for (auto& w : s.moveTo(to)) warnings.push_back(w);
      ++moved;
    } catch (const Error& e) {
      std::string what = e.what();
      if (moved > 0) what += fmt::format(" ({} other connections had moved already)", moved);
      return {{"ok", false}, {"error", what}, {"connections", moved}};
    }
  }
  server = to;
  return {{"ok", true}, {"connections", moved}, {"warnings", warnings}};
}

// A dump's thumbnail: the largest window of any connection, scaled to at
// most "width" pixels wide, written as PNG to "thumbnail" (a path).
nlohmann::json serveThumbnail(const nlohmann::json& request, const std::list<Session>& sessions) {
  if (!request["thumbnail"].is_string()) return {{"ok", false}, {"error", "no path"}};
  std::optional<picture::Frame> best;
  for (const auto& s : sessions) {
    try {
      auto f = s.largestWindowPicture();
      if (f && (!best || f->width * f->height > best->width * best->height)) best = std::move(f);
    } catch (const Error& e) {
      log::warn("x11: no picture of a connection's window: {}", e.what());
    }
  }
  if (!best) return {{"ok", false}, {"error", "the client shows no window"}};
  picture::Frame t = best->scaledToWidth(request.value("width", 320));
  try {
    picture::writePngFile(request["thumbnail"].get<std::string>(), t);
  } catch (const Error& e) {
    return {{"ok", false}, {"error", e.what()}};
  }
  return {{"ok", true},
          {"width", t.width},
          {"height", t.height},
          {"window_width", best->width},
          {"window_height", best->height}};
}

}  // namespace

int runProxy(const ProxyOptions& opts) {
  if (!std::getenv("DISPLAY")) throw Error("DISPLAY is not set: no X server to connect to");
  // Daemons the command starts stay in the tree, as for `ckpt run`.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) throwErrno("PR_SET_CHILD_SUBREAPER");
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t signals, oldMask;
  sigemptyset(&signals);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, s);
  ::sigprocmask(SIG_BLOCK, &signals, &oldMask);
  UniqueFd sigfd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) throwErrno("signalfd");

  ServerAddress server{std::getenv("DISPLAY"), envOr("XAUTHORITY", "")};
  ControlSocket control;
  ListenDisplay display;
  AuthFile auth(display.number());
  std::string pidfile = opts.pidfile;
  if (!pidfile.empty()) {
    std::ofstream f(pidfile, std::ios::trunc);
    f << ::getpid() << "\n";
    if (!f.flush()) throw Error("cannot write the pid file " + pidfile);
  }
  log::info("x11: proxy display :{} for {}", display.number(), opts.command.front());
  pid_t child = spawn(opts.command, display.number(), auth.path(), oldMask);
  int status = -1;

  std::list<Session> sessions;
  ProxyHook hook(sessions, server);
  std::vector<pollfd> fds;
  std::vector<Session*> owners;
  while (status < 0 || !sessions.empty()) {
    fds.clear();
    owners.clear();
    fds.push_back({sigfd.get(), POLLIN, 0});
    fds.push_back({display.pathFd(), POLLIN, 0});
    fds.push_back({display.abstractFd(), POLLIN, 0});
    fds.push_back({control.fd(), POLLIN, 0});
    fds.push_back({hook.fd(), POLLIN, 0});
    for (auto& s : sessions) {
      fds.push_back({s.clientFd(), s.clientEvents(), 0});
      owners.push_back(&s);
      if (s.pollServerFd() >= 0) {
        fds.push_back({s.pollServerFd(), s.serverEvents(), 0});
        owners.push_back(&s);
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throwErrno("poll");
    }
    if (fds[0].revents) {
      signalfd_siginfo si;
      while (::read(sigfd.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGUSR1) {
          // What each connection has created so far, one JSON line each.
          for (const auto& s : sessions)
            std::fprintf(stderr, "ckpt: x11: model: %s\n",
                         modelToJson(s.tracker().model()).dump().c_str());
          continue;
        }
        if (si.ssi_signo != SIGCHLD) {
          if (status < 0) ::kill(child, int(si.ssi_signo));
          continue;
        }
        int st = 0;
        pid_t p;
        while ((p = ::waitpid(-1, &st, WNOHANG)) > 0)
          if (p == child) status = exitStatus(st);
      }
    }
    for (int i : {1, 2}) {
      if (!(fds[std::size_t(i)].revents & POLLIN)) continue;
      int c;
      while ((c = ::accept4(fds[std::size_t(i)].fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0)
        sessions.emplace_back(UniqueFd(c), auth.cookie(), server);
    }
    if (fds[3].revents & POLLIN) {
      UniqueFd conn;
      nlohmann::json request = control.accept(conn);
      if (conn && request.is_object() && request.contains("move"))
        ControlSocket::reply(conn, serveMove(request, sessions, server));
      else if (conn && request.is_object() && request.contains("thumbnail"))
        ControlSocket::reply(conn, serveThumbnail(request, sessions));
      else if (conn)
        ControlSocket::reply(conn, {{"ok", false}, {"error", "unknown request"}});
    }
    if (fds[4].revents & POLLIN) hook.dispatch();
    std::vector<Session*> done;
    for (std::size_t i = 5; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      Session* s = owners[i - 5];
      bool alive =
          fds[i].fd == s->clientFd() ? s->onClient(fds[i].revents) : s->onServer(fds[i].revents);
      if (!alive) done.push_back(s);
    }
    for (Session* s : done) {
      log::debug("x11: connection closed after {} requests, {} replies, {} events, {} errors",
                 s->tracker().requests(), s->tracker().replies(), s->tracker().events(),
                 s->tracker().errors());
      sessions.remove_if([&](const Session& x) { return &x == s; });
    }
  }
  if (!pidfile.empty()) ::unlink(pidfile.c_str());
  return status;
}

}  // namespace ckpt::x11
