// VNC desktops under `ckpt vnc run` (issue 6's acceptance): the same pixels
// after dump --kill and restore, typing through the gateway, a viewer that
// stays connected across the dump, two restores of one image, thumbnails in
// the image, and the gateway's authentication.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "CkptTest.hpp"
#include "Programs.hpp"
#include "VncDesktop.hpp"
#include "core/util/Error.hpp"
#include "picture/Png.hpp"
#include "vnc/rfb/RfbConnection.hpp"

namespace ckpt::test {
namespace {

using namespace std::chrono_literals;

class Vnc : public CkptTest {
 protected:
  void SetUp() override {
    for (const char* p : {"Xvnc", "twm", "xterm", "xlogo", "xcalc", "xdotool"})
      if (access(systemProgram(p).c_str(), X_OK) != 0)
        GTEST_SKIP() << p << " is not installed (scripts/install-deps.sh installs it)";
  }

  // dump --kill; the tree's pids free again (its parent, the gateway, reaps
  // them); restore --detach keeps the root's pid. `figures`: dump and
  // restore times and the image's size, for the record.
  void killAndRestore(VncDesktop& d, const std::string& img, std::string* figures = nullptr) {
    auto r = h.runCkpt({"dump", std::to_string(d.root()), "-o", img, "--kill", "--json"});
    ASSERT_TRUE(r.status.ok()) << r.describe();
    auto dumped = nlohmann::json::parse(r.out);
    ASSERT_TRUE(waitGone(d.tree())) << "the dumped desktop's processes are still there";
    r = h.runCkpt({"restore", img, "--detach", "--json"});
    ASSERT_TRUE(r.status.ok()) << r.describe();
    auto restored = nlohmann::json::parse(r.out);
    ASSERT_EQ(restored["root"].get<pid_t>(), d.root()) << r.describe();
    if (figures) {
      uint64_t bytes = 0;
      for (const auto& e : std::filesystem::directory_iterator(img)) bytes += e.file_size();
      *figures =
          fmt::format("dump --kill {:.0f} ms, {} processes, image {:.1f} MiB; restore {:.0f} ms",
                      dumped["total_ms"].get<double>(), dumped["processes"].get<int>(),
                      double(bytes) / (1 << 20), restored["restore_ms"].get<double>());
    }
  }

  // Types a command into the xterm that creates a file; waits for the file.
  void expectTyping(vnc::RfbConnection& conn, const std::string& name) {
    const std::string file = h.dir() + "/" + name;
    VncDesktop::typeLine(conn, "touch " + file);
    EXPECT_TRUE(waitForEntry(h.dir(), name, 20s))
        << "keys typed through the gateway did not reach the xterm's shell";
  }

  // Kills the restored desktop (it is ours now, as subreaper) and reaps it.
  void killRestored(const std::vector<pid_t>& tree) {
    for (pid_t p : tree) kill(p, SIGKILL);
    // Some go by themselves first when their X server dies: any end will do.
    for (pid_t p : tree) h.waitExit(p, 20s);
    ASSERT_TRUE(waitGone(tree)) << "the restored desktop's processes are still there";
  }
};

TEST_F(Vnc, SamePixelsAfterKillAndRestoreThenTyping) {
  VncDesktop d(h);
  picture::Frame before = d.stillPicture();
  EXPECT_EQ(comparePictures(before, d.viaGateway(), "gateway-before"), "")
      << "the gateway shows another picture than Xvnc";
  // A viewer that stays: its whole frame after the restore says the gateway
  // is on the restored desktop (keys typed before that go nowhere).
  vnc::RfbConnection watcher(vnc::Address{"127.0.0.1", d.port(), ""}, "");
  ASSERT_TRUE(watcher.waitFullFrame(20s));
  ASSERT_NO_FATAL_FAILURE(killAndRestore(d, h.imageDir()));
  EXPECT_EQ(comparePictures(before, d.direct(), "restored"), "")
      << "the restored desktop looks different";
  ASSERT_TRUE(watcher.waitFullFrame(20s)) << "the gateway did not come back to the desktop";
  // A viewer that comes after the restore types into the xterm.
  vnc::RfbConnection viewer(vnc::Address{"127.0.0.1", d.port(), ""}, "");
  ASSERT_TRUE(viewer.waitFullFrame(20s));
  ASSERT_NO_FATAL_FAILURE(expectTyping(viewer, "typed-after-restore"));
  EXPECT_TRUE(waitUntil([&] { return !(d.direct() == before); }, 10s))
      << "the typed line does not show on the desktop";
  EXPECT_EQ(d.viaGateway(), d.direct()) << "the gateway does not show the restored desktop";
}

TEST_F(Vnc, ViewerStaysConnectedAcrossDumpAndRestore) {
  VncDesktop d(h);
  picture::Frame before = d.stillPicture();
  vnc::RfbConnection viewer(vnc::Address{"127.0.0.1", d.port(), ""}, "");
  ASSERT_TRUE(viewer.waitFullFrame(20s)) << "no first frame through the gateway";
  EXPECT_EQ(comparePictures(before, viewer.frame(), "viewer-before"), "");
  const auto t0 = std::chrono::steady_clock::now();
  std::string figures;
  ASSERT_NO_FATAL_FAILURE(killAndRestore(d, h.imageDir(), &figures));
  ASSERT_TRUE(viewer.waitFullFrame(20s))
      << "the connected viewer got no whole frame after the restore";
  const double frozenMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(comparePictures(before, viewer.frame(), "viewer-after"), "")
      << "the viewer sees another picture after the restore";
  std::printf(
      "[ figures  ] 800x600 desktop (twm, xterm, xlogo, xcalc): %s; a viewer connected "
      "through the gateway saw it frozen for %.0f ms (dump --kill, restore --detach, "
      "reconnect, whole frame)\n",
      figures.c_str(), frozenMs);
  ASSERT_NO_FATAL_FAILURE(expectTyping(viewer, "typed-by-the-same-viewer"));
}

TEST_F(Vnc, RestoredTwiceFromOneImageLooksTheSame) {
  VncDesktop d(h);
  picture::Frame before = d.stillPicture();
  ASSERT_NO_FATAL_FAILURE(killAndRestore(d, h.imageDir()));
  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE("restore #" + std::to_string(round));
    if (round == 2) {
      pid_t restored;
      ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), d.root(), &restored));
    }
    EXPECT_EQ(comparePictures(before, d.direct(), "restored-" + std::to_string(round)), "")
        << "the restored desktop looks different";
    std::string diff;
    EXPECT_TRUE(waitUntil(
        [&] {
          diff = comparePictures(before, d.viaGateway(), "gateway-" + std::to_string(round));
          return diff.empty();
        },
        20s))
        << "the gateway does not show the restored desktop: " << diff;
    ASSERT_NO_FATAL_FAILURE(killRestored(d.tree()));
  }
}

TEST_F(Vnc, DumpStoresThumbnailAndGatewayGoesOn) {
  VncDesktop d(h);
  picture::Frame before = d.stillPicture();
  // Left running: the gateway's connection is left alone, and serves on.
  auto r = h.runCkpt({"dump", std::to_string(d.root()), "-o", h.imageDir()});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  EXPECT_EQ(comparePictures(before, d.viaGateway(), "gateway-after-dump"), "");

  const std::string png = h.dir() + "/thumb.png";
  r = h.runCkpt({"inspect", h.imageDir(), "--thumbnail", png});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  picture::Frame thumb = picture::decodePng(readFile(png), png);
  EXPECT_EQ(thumb.width, 320);
  EXPECT_EQ(thumb.height, 240) << "800x600 scaled to 320 wide keeps 4:3";
  EXPECT_EQ(comparePictures(before.scaledToWidth(320), thumb, "thumbnail"), "")
      << "the thumbnail is not the desktop's picture";
  struct stat st {};
  ASSERT_EQ(stat((h.imageDir() + "/thumbnail.png").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  r = h.runCkpt({"ls", h.dir()});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  EXPECT_NE(r.out.find(" vnc "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" yes "), std::string::npos) << r.out;

  // The thumbnail is checked like every file of the image.
  {
    std::fstream f(h.imageDir() + "/thumbnail.png",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x55');
  }
  r = h.runCkpt({"inspect", h.imageDir(), "--thumbnail", png});
  EXPECT_EQ(r.status.code, 1) << r.describe();
  EXPECT_NE(r.err.find("thumbnail"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("corrupt"), std::string::npos) << r.err;
}

TEST_F(Vnc, ImageWithoutThumbnailSaysSo) {
  pid_t pid = h.spawn({systemProgram("sleep"), "600"}, Ready::Exec);
  auto r = h.runCkpt({"dump", std::to_string(pid), "-o", h.imageDir()});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  r = h.runCkpt({"inspect", h.imageDir(), "--thumbnail", h.dir() + "/t.png"});
  EXPECT_EQ(r.status.code, 1) << r.describe();
  EXPECT_NE(r.err.find("holds no thumbnail"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(h.dir() + "/t.png"));
}

// The listening sockets of a TCP port in /proc/net/tcp{,6}: local addresses as hex.
std::set<std::string> listeners(int port) {
  std::set<std::string> out;
  char portHex[8];
  std::snprintf(portHex, sizeof portHex, "%04X", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      char local[64] = {}, remote[64] = {};
      unsigned state = 0;
      if (std::sscanf(line.c_str(), "%*d: %63s %63s %x", local, remote, &state) != 3) continue;
      std::string l = local;
      if (state == 0x0A && l.substr(l.find(':') + 1) == portHex)
        out.insert(l.substr(0, l.find(':')));
    }
  }
  return out;
}

TEST_F(Vnc, WithoutPasswordOnlyLoopback) {
  VncDesktop d(h);
  auto addrs = listeners(d.port());
  ASSERT_FALSE(addrs.empty());
  for (const auto& a : addrs)
    EXPECT_TRUE(a == "0100007F" || a == "00000000000000000000000001000000")
        << "the gateway listens on " << a << ", not on loopback only";
}

TEST_F(Vnc, PasswordRefusesViewersWithoutIt) {
  const std::string pwfile = h.dir() + "/pw";
  std::ofstream(pwfile) << "s3cret\n";
  VncDesktop d(h, pwfile);
  EXPECT_THROW(vnc::RfbConnection(vnc::Address{"127.0.0.1", d.port(), ""}, ""), ckpt::Error);
  EXPECT_THROW(vnc::RfbConnection(vnc::Address{"127.0.0.1", d.port(), ""}, "wrong"), ckpt::Error);
  picture::Frame f = d.viaGateway("s3cret");
  EXPECT_EQ(f.width, 800);
  auto r = h.runCkpt({"vnc", "snapshot", "127.0.0.1:" + std::to_string(d.port()), "-o",
                      h.dir() + "/s.png", "--password-file", pwfile});
  EXPECT_TRUE(r.status.ok()) << r.describe();
  r = h.runCkpt(
      {"vnc", "snapshot", "127.0.0.1:" + std::to_string(d.port()), "-o", h.dir() + "/s2.png"});
  EXPECT_EQ(r.status.code, 1) << r.describe();
  EXPECT_NE(r.err.find("127.0.0.1:" + std::to_string(d.port())), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ckpt::test
