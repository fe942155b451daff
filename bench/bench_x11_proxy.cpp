// The cost of ckpt's X11 proxy: round trips (GetInputFocus) and bulk drawing
// (PutImage into a pixmap, then one round trip) against a private Xvfb,
// directly, through `ckpt x11 run`, and through a bare relay that splices
// bytes and parses nothing (the floor for any proxy process on this
// machine: what one more hop costs here), best of several runs each; and
// the CPU time the proxy adds per gigabyte drawn.
//
//   bench_x11_proxy [--roundtrips N] [--images N]     (default: 20000 2000)
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xcb/xcb.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

constexpr int kRuns = 3;
constexpr int kSide = 256;  // PutImage of 256x256 at depth 24: 256 KiB a request

struct Figures {
  double roundtripUs = 0;  // per round trip
  double bulkMBps = 0;     // PutImage bandwidth
};

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// The client side, run against $DISPLAY: prints "roundtrip_us bulk_MBps".
int client(int roundtrips, int images) {
  xcb_connection_t* c = xcb_connect(nullptr, nullptr);
  if (xcb_connection_has_error(c)) return 1;
  const xcb_screen_t* screen = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
  Figures best{1e9, 0};
  xcb_pixmap_t pixmap = xcb_generate_id(c);
  xcb_create_pixmap(c, 24, pixmap, screen->root, kSide, kSide);
  xcb_gcontext_t gc = xcb_generate_id(c);
  xcb_create_gc(c, gc, pixmap, 0, nullptr);
  std::vector<std::uint8_t> data(std::size_t(kSide) * kSide * 4, 0x5a);
  for (int run = 0; run < kRuns; ++run) {
    auto t = Clock::now();
    for (int i = 0; i < roundtrips; ++i)
      free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), nullptr));
    best.roundtripUs = std::min(best.roundtripUs, seconds(t) * 1e6 / roundtrips);
    t = Clock::now();
    for (int i = 0; i < images; ++i)
      xcb_put_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP, pixmap, gc, kSide, kSide, 0, 0, 0, 24,
                    std::uint32_t(data.size()), data.data());
    free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), nullptr));
    best.bulkMBps = std::max(best.bulkMBps, double(data.size()) * images / seconds(t) / 1e6);
  }
  std::printf("%f %f\n", best.roundtripUs, best.bulkMBps);
  xcb_disconnect(c);
  return 0;
}

// What a run printed, and the CPU time it used (with its children's).
struct Run {
  std::string out;
  double cpuSeconds = 0;
};

// Runs argv with DISPLAY set.
Run capture(const std::vector<std::string>& argv, const std::string& display) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    setenv("DISPLAY", display.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  Run run;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) run.out.append(buf, std::size_t(n));
  close(fds[0]);
  rusage usage{};
  wait4(pid, nullptr, 0, &usage);
  auto sec = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  run.cpuSeconds = sec(usage.ru_utime) + sec(usage.ru_stime);
  return run;
}

Figures parse(const std::string& out) {
  Figures f;
  if (std::sscanf(out.c_str(), "%lf %lf", &f.roundtripUs, &f.bulkMBps) != 2)
    throw std::runtime_error("the benchmark client failed");
  return f;
}

// The floor for any proxy on this machine: a bare relay that splices bytes
// between one client and the server, parsing nothing. Listens as display
// :N (its socket file), serves one connection, returns when it ends.
[[noreturn]] void bareRelay(int listener, const std::string& serverSocket) {
  int client = accept(listener, nullptr, nullptr);
  int server = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", serverSocket.c_str());
  if (client < 0 || connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(1);
  struct Way {
    int from, to, pipe[2];
    std::size_t inPipe;
  } ways[2] = {{client, server, {-1, -1}, 0}, {server, client, {-1, -1}, 0}};
  for (auto& w : ways) {
    if (pipe2(w.pipe, O_NONBLOCK) != 0) _exit(1);
    fcntl(w.pipe[1], F_SETPIPE_SZ, 1 << 20);
    fcntl(w.from, F_SETFL, O_NONBLOCK);
  }
  for (;;) {
    pollfd fds[2];
    for (int i = 0; i < 2; ++i) fds[i] = {ways[i].from, short(ways[i].inPipe ? 0 : POLLIN), 0};
    // Bytes waiting in a pipe: wait for their destination instead.
    for (int i = 0; i < 2; ++i)
      if (ways[i].inPipe) fds[i] = {ways[i].to, POLLOUT, 0};
    poll(fds, 2, -1);
    for (auto& w : ways) {
      if (!w.inPipe) {
        ssize_t n =
            splice(w.from, nullptr, w.pipe[1], nullptr, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n == 0) _exit(0);
        if (n > 0) w.inPipe = std::size_t(n);
      }
      while (w.inPipe) {
        ssize_t n =
            splice(w.pipe[0], nullptr, w.to, nullptr, w.inPipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n <= 0) break;
        w.inPipe -= std::size_t(n);
      }
    }
  }
}

// Starts bareRelay in a child on a free display number; returns it (or "").
std::string startBareRelay(const std::string& serverDisplay, pid_t& relay) {
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  for (int n = 6000 + getpid() % 1000; n < 7000 + getpid() % 1000; ++n) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "/tmp/.X11-unix/X%d", n);
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) continue;
    listen(listener, 1);
    relay = fork();
    if (relay == 0) bareRelay(listener, "/tmp/.X11-unix/X" + serverDisplay.substr(1));
    close(listener);
    return ":" + std::to_string(n);
  }
  close(listener);
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  int roundtrips = 20000, images = 2000;
  bool isClient = argc > 1 && !std::strcmp(argv[1], "--client");
  for (int i = isClient ? 2 : 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--roundtrips")) roundtrips = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--images")) images = std::atoi(argv[i + 1]);
  }
  if (isClient) return client(roundtrips, images);

  // A private Xvfb, ready when it writes its display number on -displayfd.
  int fds[2];
  if (pipe(fds) != 0) return 1;
  pid_t xvfb = fork();
  if (xvfb == 0) {
    close(fds[0]);
    std::string fd = std::to_string(fds[1]);
    execlp("Xvfb", "Xvfb", "-displayfd", fd.c_str(), "-nolisten", "tcp", "-screen", "0",
           "640x480x24", nullptr);
    _exit(127);
  }
  close(fds[1]);
  // Read up to the newline, and keep the pipe open: Xvfb fails if a later
  // write of its finds the reader gone.
  std::string num;
  char ch;
  while (read(fds[0], &ch, 1) == 1 && ch != '\n') num += ch;
  if (num.empty()) {
    std::fprintf(stderr, "bench_x11_proxy: Xvfb did not start\n");
    return 1;
  }
  std::string display = ":" + num;
  std::string self = "/proc/" + std::to_string(getpid()) + "/exe";
  std::vector<std::string> args{self,           "--client",
                                "--roundtrips", std::to_string(roundtrips),
                                "--images",     std::to_string(images)};
  std::vector<std::string> proxied{CKPT_BINARY, "x11", "run", "--"};
  proxied.insert(proxied.end(), args.begin(), args.end());
  int status = 0;
  try {
    Figures direct = parse(capture(args, display).out);
    Figures through = parse(capture(proxied, display).out);
    pid_t relayPid = -1;
    std::string relayDisplay = startBareRelay(display, relayPid);
    if (relayDisplay.empty()) throw std::runtime_error("no display for the bare relay");
    Figures relay = parse(capture(args, relayDisplay).out);
    waitpid(relayPid, nullptr, 0);
    unlink(("/tmp/.X11-unix/X" + relayDisplay.substr(1)).c_str());
    // The proxy's own CPU per gigabyte drawn, from runs of images alone: on
    // a busy machine this holds still where bandwidths do not.
    std::vector<std::string> bulk{self, "--client", "--roundtrips",
                                  "1",  "--images", std::to_string(images)};
    std::vector<std::string> bulkProxied{CKPT_BINARY, "x11", "run", "--"};
    bulkProxied.insert(bulkProxied.end(), bulk.begin(), bulk.end());
    double gigabytes = double(kSide) * kSide * 4 * images * kRuns / 1e9;
    double clientCpu = capture(bulk, display).cpuSeconds;
    double proxyCpu = capture(bulkProxied, display).cpuSeconds - clientCpu;
    fmt::print("X11 proxy on Xvfb ({} round trips, {} PutImage of {} KiB; best of {})\n",
               roundtrips, images, kSide * kSide * 4 / 1024, kRuns);
    fmt::print("{:<24} {:>12} {:>14} {:>10} {:>14} {:>10}\n", "", "direct", "through proxy",
               "overhead", "bare relay", "overhead");
    auto slower = [](double a, double b) { return 100 * (a / b - 1); };
    fmt::print("{:<24} {:>9.1f} us {:>11.1f} us {:>9.0f}% {:>11.1f} us {:>9.0f}%\n", "round trip",
               direct.roundtripUs, through.roundtripUs,
               slower(through.roundtripUs, direct.roundtripUs), relay.roundtripUs,
               slower(relay.roundtripUs, direct.roundtripUs));
    fmt::print("{:<24} {:>7.0f} MB/s {:>9.0f} MB/s {:>9.0f}% {:>9.0f} MB/s {:>9.0f}%\n",
               "bulk drawing (PutImage)", direct.bulkMBps, through.bulkMBps,
               slower(direct.bulkMBps, through.bulkMBps), relay.bulkMBps,
               slower(direct.bulkMBps, relay.bulkMBps));
    fmt::print(
        "{:<24} bulk drawing {:+.0f}%, round trip {:+.0f}% (what parsing and the model cost)\n",
        "proxy over bare relay", slower(relay.bulkMBps, through.bulkMBps),
        slower(through.roundtripUs, relay.roundtripUs));
    fmt::print("{:<24} {:>9.0f} ms {:>11.0f} ms  (the proxy's: {:.0f}% of the client's)\n",
               "CPU per GB drawn", 1e3 * clientCpu / gigabytes,
               1e3 * (clientCpu + proxyCpu) / gigabytes, 100 * proxyCpu / clientCpu);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_x11_proxy: %s\n", e.what());
    status = 1;
  }
  kill(xvfb, SIGTERM);
  waitpid(xvfb, nullptr, 0);
  close(fds[0]);
  return status;
}
