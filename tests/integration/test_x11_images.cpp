// Large images through the X11 proxy: the bodies of big PutImages pass from
// the client to the server by splice(2), not through the proxy's buffers.
// A client streaming images and reading each back (tests/programs/x11_images)
// must see every byte, in order, while it runs through the proxy, across
// live moves between servers, and across a dump and a restore onto another
// server, both of which wait for a body in flight to be whole.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <string>

#include "X11Fixture.hpp"

namespace ckpt::test {
namespace {

class X11Images : public X11TwoServers {
 protected:
  void start() {
    status_ = h.workDir() + "/images";
    std::ofstream(status_).flush();  // there to be watched before the client writes it
    startProxied({programPath("x11_images"), status_});
  }
  std::string status() { return readFile(status_); }
  bool failed() { return status().rfind("FAIL", 0) == 0; }
  // Rounds done so far: -1 while the file is being rewritten.
  long rounds() {
    std::string s = status();
    return s.rfind("rounds ", 0) == 0 ? std::stol(s.substr(7)) : -1;
  }
  // Waits for `more` rounds after the ones done now, every image intact.
  bool moreRounds(long more) {
    long from = -1;
    if (!waitForFile(status_, [&] { return failed() || (from = rounds()) >= 0; })) return false;
    return waitForFile(status_, [&] { return failed() || rounds() >= from + more; }) && !failed();
  }
  // The client ends on SIGTERM (passed on by the proxy) and reports success.
  void stop() {
    ASSERT_EQ(::kill(proxyPid(), SIGTERM), 0);
    auto st = h.waitExit(proxy_);
    proxy_ = -1;
    EXPECT_TRUE(st.kind == ExitStatus::Exited && st.code == 0) << st.describe() << " " << status();
  }

  std::string status_;
};

TEST_F(X11Images, LargeImagesArriveWholeAcrossLiveMoves) {
  start();
  ASSERT_TRUE(moreRounds(3)) << status() << h.log();
  for (const std::string& to : {other_, display_, other_}) {
    SCOPED_TRACE("move to :" + to);
    auto r = move(to);
    ASSERT_TRUE(r.status.ok()) << r.describe();
    ASSERT_TRUE(moreRounds(3)) << status() << h.log();
  }
  stop();
}

TEST_F(X11Images, LargeImagesArriveWholeAfterRestoresOnAnotherServer) {
  // Each dump meets the client somewhere else in its stream: in the middle
  // of an image's body, between a PutImage and its GetImage, or waiting for
  // a reply; the checkpoint must hold what it sent until the new server.
  start();
  ASSERT_TRUE(moreRounds(3)) << status() << h.log();
  for (int i = 0; i < 3; ++i) {
    const std::string& to = i % 2 ? display_ : other_;
    SCOPED_TRACE("restore " + std::to_string(i) + " on :" + to);
    std::string image = h.dir() + "/images" + std::to_string(i) + ".img";
    ASSERT_NO_FATAL_FAILURE(dumpKill("x11_images", image));
    ASSERT_FALSE(failed()) << status();
    ASSERT_NO_FATAL_FAILURE(restoreOn(to, image));
    ASSERT_TRUE(moreRounds(3)) << status() << h.log();
  }
  stop();
}

}  // namespace
}  // namespace ckpt::test
