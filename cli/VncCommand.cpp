// `ckpt vnc run` (a desktop behind ckpt's gateway) and `ckpt vnc snapshot`
// (a PNG of a desktop over RFB).
#include "cli/Commands.hpp"
#include "picture/Png.hpp"
#include "vnc/gateway/VncRun.hpp"
#include "vnc/rfb/Snapshot.hpp"

namespace ckpt::cli {

int vncRunCommand(const VncRunOptions& o) {
  vnc::VncRunOptions v;
  v.display = o.display;
  v.rfbport = o.rfbport;
  v.geometry = o.geometry;
  v.depth = o.depth;
  v.passwordFile = o.passwordFile;
  v.pidfile = o.pidfile;
  v.session = o.session;
  return vnc::runVnc(v);
}

int vncSnapshotCommand(const VncSnapshotOptions& o) {
  const std::string password = o.passwordFile.empty() ? "" : vnc::readPasswordFile(o.passwordFile);
  picture::Frame f = vnc::takeSnapshot(vnc::parseAddress(o.address), password);
  picture::writePngFile(o.output, f);
  return 0;
}

}  // namespace ckpt::cli
