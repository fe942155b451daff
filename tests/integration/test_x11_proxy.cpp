// `ckpt x11 run` on Xvfb: clients reach the real server through the proxy
// and look exactly as they do when run directly; the proxy's display is
// closed to clients without its cookie; typing into xterm goes through.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "X11Fixture.hpp"

namespace ckpt::test {
namespace {

TEST_F(X11Proxy, XlogoLooksTheSameThroughTheProxy) {
  ASSERT_NO_FATAL_FAILURE(
      expectSamePicture({systemProgram("xlogo"), "-geometry", "120x120+10+10"}, "xlogo"));
  // One tree: the proxy is the client's parent, and the pid file names it.
  EXPECT_EQ(trimmed(readFile(pidfile())), std::to_string(proxy_));
  auto tree = Harness::treePids(proxy_);
  EXPECT_EQ(tree.size(), 2u);
}

TEST_F(X11Proxy, RecordsWhatTheClientCreates) {
  startProxied({systemProgram("xlogo"), "-geometry", "120x130+10+10"});
  std::string id = waitWindow("xlogo");
  ASSERT_FALSE(id.empty());
  stablePixels(id);
  // SIGUSR1: the proxy prints each connection's model as one JSON line.
  const std::string marker = "ckpt: x11: model: ";
  kill(proxy_, SIGUSR1);
  ASSERT_TRUE(waitForFile(h.logPath(), [&] {
    std::string log = h.log();
    auto at = log.find(marker);
    return at != std::string::npos && log.find('\n', at) != std::string::npos;
  })) << h.log();
  std::string log = h.log();
  auto at = log.find(marker) + marker.size();
  auto model = nlohmann::json::parse(log.substr(at, log.find('\n', at) - at));
  const nlohmann::json* top = nullptr;
  for (const auto& w : model["windows"])
    if (w["id"] == id) top = &w;
  ASSERT_NE(top, nullptr) << model.dump(1);
  EXPECT_EQ((*top)["width"], 120);
  EXPECT_EQ((*top)["height"], 130);
  EXPECT_EQ((*top)["mapped"], true);
  // WM_NAME (predefined atom 39) as the client set it; WM_PROTOCOLS interned by name.
  EXPECT_EQ((*top)["properties"]["39"]["text"], "xlogo") << top->dump(1);
  EXPECT_TRUE(model["atoms"].contains("WM_PROTOCOLS")) << model["atoms"].dump();
  EXPECT_TRUE((*top)["properties"].contains("WM_PROTOCOLS")) << top->dump(1);
  EXPECT_FALSE(model["gcs"].empty());
}

TEST_F(X11Proxy, XclockLooksTheSameThroughTheProxy) {
  // Only the year is shown, so the picture holds still.
  ASSERT_NO_FATAL_FAILURE(expectSamePicture({systemProgram("xclock"), "-digital", "-strftime", "%Y",
                                             "-update", "3600", "-geometry", "+20+20"},
                                            "xclock"));
}

TEST_F(X11Proxy, AnalogXclockAppears) {
  startProxied({systemProgram("xclock"), "-geometry", "150x150+0+0"});
  std::string id = waitWindow("xclock");
  ASSERT_FALSE(id.empty());
  EXPECT_FALSE(stablePixels(id).empty());
}

TEST_F(X11Proxy, ClientsWithoutTheCookieAreRefused) {
  startProxied({systemProgram("xlogo")});
  ASSERT_FALSE(waitWindow("xlogo").empty());
  std::string display = proxyDisplay();
  ASSERT_FALSE(display.empty());
  EXPECT_NE(display, ":" + display_);
  std::string xauth = proxyXauthority();
  struct stat st {};
  ASSERT_EQ(stat(xauth.c_str(), &st), 0) << xauth;
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A raw connection setup with no authorization: a Failed reply with a reason.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = "/tmp/.X11-unix/X" + display.substr(1);
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << path;
  const unsigned char setup[12] = {'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(write(fd, setup, sizeof setup), 12);
  std::string reply;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) reply.append(buf, std::size_t(n));
  close(fd);
  ASSERT_GE(reply.size(), 8u);
  EXPECT_EQ(reply[0], 0) << "not a Failed setup reply";
  EXPECT_NE(reply.find("Authorization required"), std::string::npos) << reply;

  // Xlib clients: refused without the cookie, served with it.
  auto refused = h.run({"/usr/bin/env", "DISPLAY=" + display, "XAUTHORITY=/dev/null",
                        systemProgram("xwininfo"), "-root"},
                       kTimeout, false);
  EXPECT_FALSE(refused.status.ok());
  auto served = h.run({"/usr/bin/env", "DISPLAY=" + display, "XAUTHORITY=" + xauth,
                       systemProgram("xwininfo"), "-root", "-tree"},
                      kTimeout, false);
  EXPECT_TRUE(served.status.ok()) << served.describe();
  EXPECT_NE(served.out.find("\"xlogo\""), std::string::npos) << served.out;
}

// A cookie that is not the proxy's is refused like none; another user cannot
// read the proxy's Xauthority (0600) and is refused too; the right cookie,
// from a copy, is what lets a client in.
TEST_F(X11Proxy, WrongCookieAndOtherUsersAreRefused) {
  startProxied({systemProgram("xlogo")});
  ASSERT_FALSE(waitWindow("xlogo").empty());
  const std::string display = proxyDisplay();
  const std::string xauth = proxyXauthority();
  ASSERT_FALSE(display.empty());
  const std::string bogus = h.dir() + "/bogus.xauth";
  auto made = h.run({systemProgram("xauth"), "-f", bogus, "add", display, "MIT-MAGIC-COOKIE-1",
                     "00112233445566778899aabbccddeeff"});
  ASSERT_TRUE(made.status.ok()) << made.describe();
  auto wrong = h.run({"/usr/bin/env", "DISPLAY=" + display, "XAUTHORITY=" + bogus,
                      systemProgram("xwininfo"), "-root"},
                     kTimeout, false);
  EXPECT_FALSE(wrong.status.ok()) << wrong.describe();
  EXPECT_NE(wrong.err.find("unable to open display"), std::string::npos) << wrong.describe();

  const std::vector<std::string> asNobody{"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                          "--clear-groups"};
  auto other = asNobody;
  other.insert(other.end(), {"/usr/bin/env", "DISPLAY=" + display, "XAUTHORITY=" + xauth,
                             systemProgram("xwininfo"), "-root"});
  auto refused = h.run(other, kTimeout, false);
  EXPECT_FALSE(refused.status.ok()) << refused.describe();
  EXPECT_NE(refused.err.find("unable to open display"), std::string::npos) << refused.describe();

  // The same user, through a copy of the right cookie: served. So what
  // refused the two above was the cookie.
  const std::string copy = h.dir() + "/copy.xauth";
  std::filesystem::copy_file(xauth, copy);
  auto served = h.run({"/usr/bin/env", "DISPLAY=" + display, "XAUTHORITY=" + copy,
                       systemProgram("xwininfo"), "-root"},
                      kTimeout, false);
  EXPECT_TRUE(served.status.ok()) << served.describe();
}

TEST_F(X11Proxy, OnlyExtensionsTheProxyCarriesAreShown) {
  startProxied({systemProgram("xlogo")});
  ASSERT_FALSE(waitWindow("xlogo").empty());
  auto direct = onServer({"xdpyinfo", "-queryExtensions"});
  ASSERT_TRUE(direct.status.ok()) << direct.describe();
  ASSERT_NE(direct.out.find("MIT-SHM"), std::string::npos) << "Xvfb without MIT-SHM?";
  auto proxied =
      h.run({"/usr/bin/env", "DISPLAY=" + proxyDisplay(), "XAUTHORITY=" + proxyXauthority(),
             systemProgram("xdpyinfo"), "-queryExtensions"},
            kTimeout, false);
  ASSERT_TRUE(proxied.status.ok()) << proxied.describe();
  // Listed (ListExtensions) and found (QueryExtension, with its opcode).
  for (const char* shown : {"BIG-REQUESTS", "RENDER", "SHAPE", "XC-MISC", "XFIXES"})
    EXPECT_NE(proxied.out.find(std::string(shown) + "  (opcode:"), std::string::npos)
        << shown << " is missing:\n"
        << proxied.out;
  for (const char* hidden : {"MIT-SHM", "XKEYBOARD", "XInputExtension", "RANDR", "GLX", "Present",
                             "DRI3", "Generic Event Extension"})
    EXPECT_EQ(proxied.out.find(hidden), std::string::npos) << hidden << " is shown:\n"
                                                           << proxied.out;
}

TEST_F(X11Proxy, TypingIntoXtermGoesThrough) {
  std::string out = h.workDir() + "/typed";
  std::string id = startXtermWithBash();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(typeLine(display_, id, "echo through-the-proxy >" + out));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "through-the-proxy\n"; }))
      << "xterm never ran what was typed: '" << readFile(out) << "'";
}

}  // namespace
}  // namespace ckpt::test
