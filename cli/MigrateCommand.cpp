// `ckpt migrate PID --to HOST`: `ckpt dump PID -o -` into `ssh HOST ckpt
// restore - --detach`, after asking the far side (`ckpt check --host`)
// whether the image can come back there.
//
// The order keeps the program safe: a pre-flight failure touches nothing.
// Once the image is written (the tree frozen), its manifest goes to the far
// side's `ckpt check --image -`, which runs restore's own checks there (the
// files the tree maps and opens, the vDSO, credentials); a refusal, or a
// stream that does not get through, fails the dump, which lets the tree run
// on. The tree is killed once the stream is out, because the far side needs
// its pids free (which matters when "far" is this machine); its image stays
// here until the far side reports the restored pid, is restored here again
// if the far restore fails, and is kept (the message says where) if that
// fails too.
#include <fcntl.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/Commands.hpp"
#include "cli/Subprocess.hpp"
#include "core/dump/Dumper.hpp"
#include "core/image/ImageStream.hpp"
#include "core/image/Model.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "core/util/TempDir.hpp"

namespace ckpt::cli {
namespace {

// ssh joins the remote command's words with spaces for the far shell.
std::string shellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::vector<std::string> sshArgv(const MigrateOptions& opts, const std::string& remoteArgs) {
  std::vector<std::string> argv{"ssh", "-o", "BatchMode=yes"};
  argv.insert(argv.end(), opts.sshOptions.begin(), opts.sshOptions.end());
  argv.push_back("--");
  argv.push_back(opts.to);
  argv.push_back(shellQuote(opts.remoteCkpt) + " " + remoteArgs);
  return argv;
}

struct FarSide {
  std::string version;
  std::string machine;
  std::string kernel;
};

// Throws Error naming everything that does not fit; touches no process.
FarSide preflight(const MigrateOptions& opts) {
  const std::string where = fmt::format("on {}", opts.to);
  Subprocess ssh(sshArgv(opts, "check --host"));
  std::string out;
  const int status = ssh.finish(out);
  const std::string untouched = fmt::format("; pid {} was not touched", opts.pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 255)
    throw Error(
        fmt::format("ssh to {} failed (see its message above): check the host name, "
                    "keys (ssh runs with BatchMode=yes) and --ssh-option{}",
                    opts.to, untouched));
  if (WIFEXITED(status) && (WEXITSTATUS(status) == 127 || WEXITSTATUS(status) == 126))
    throw Error(
        fmt::format("no ckpt {} at {} ({}): install ckpt there or give --remote-ckpt "
                    "PATH{}",
                    where, opts.remoteCkpt, describeStatus(status), untouched));
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (!j.is_object())
    throw Error(
        fmt::format("{} check --host {} gave no host report ({}): that ckpt is too old "
                    "for migrate; install this version ({}) there{}",
                    opts.remoteCkpt, where, describeStatus(status), CKPT_VERSION, untouched));
  FarSide far{j.value("ckpt_version", "?"), j.value("machine", "?"), j.value("kernel", "?")};
  std::vector<std::string> misfits;
  struct utsname u {};
  uname(&u);
  if (far.machine != u.machine)
    misfits.push_back(fmt::format("it is {}, this is {}", far.machine, u.machine));
  auto formats = j.value("image_formats", std::vector<int>{});
  if (formats.size() != 2 || image::kFormatVersion < formats[0] ||
      image::kFormatVersion > formats[1])
    misfits.push_back(fmt::format("its ckpt {} does not read image format {}", far.version,
                                  image::kFormatVersion));
  std::string lacking;
  for (const auto& f : j.value("features", nlohmann::json::array()))
    if (f.value("required", false) && !f.value("ok", false))
      lacking += (lacking.empty() ? "" : ", ") + f.value("name", std::string("?"));
  if (!lacking.empty()) misfits.push_back("its kernel lacks " + lacking);
  if (!misfits.empty()) {
    std::string all;
    for (const auto& m : misfits) all += (all.empty() ? "" : "; ") + m;
    throw Error(fmt::format("{} cannot take this program: {}{}", opts.to, all, untouched));
  }
  if (far.kernel != u.release)
    log::info("{} runs kernel {}, this machine {}: every feature ckpt needs was tried there",
              opts.to, far.kernel, u.release);
  return far;
}

// Restore's checks on the far side, from the manifest just written: throws
// Error with the far side's reason. The tree is still whole here.
void checkFarSide(const MigrateOptions& opts, const std::string& dir) {
  Subprocess ssh(sshArgv(opts, "check --image - --json"));
  {
    UniqueFd manifest(open((dir + "/manifest.json").c_str(), O_RDONLY | O_CLOEXEC));
    if (!manifest) throwErrno("reading " + dir + "/manifest.json");
    char buf[65536];
    ssize_t n;
    while ((n = read(manifest.get(), buf, sizeof buf)) > 0)
      for (ssize_t off = 0; off < n;) {
        ssize_t w = write(ssh.in().get(), buf + off, size_t(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) break;  // ssh went away: its status says why
        off += w;
      }
    ssh.in().reset();
  }
  std::string out;
  const int status = ssh.finish(out);
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  const std::string runsOn = fmt::format("; pid {} runs on here", opts.pid);
  if (!j.is_object() && WIFEXITED(status) && WEXITSTATUS(status) == 2) {
    // A command-line mistake there: a ckpt from before `check --image`,
    // which still reads this image format (check --host said so).
    log::warn(
        "the ckpt on {} cannot check an image ahead (it is older than this one): its "
        "restore will check the files the program maps, after pid {} is gone here",
        opts.to, opts.pid);
    return;
  }
  if (!j.is_object())
    throw Error(
        fmt::format("the pre-flight check of the image on {} gave no answer ({}, see "
                    "above){}",
                    opts.to, describeStatus(status), runsOn));
  if (!j.value("fits", false))
    throw Error(fmt::format("{} cannot restore this image: {}{}", opts.to,
                            j.value("problem", std::string("?")), runsOn));
}

// The far restore failed after the tree was killed: bring it back here from
// the image that was streamed. Returns the restored root.
pid_t restoreHere(const std::string& image) {
  Subprocess restore({"/proc/self/exe", "restore", image, "--detach"});
  std::string out;
  const int status = restore.finish(out);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return pid_t(std::atoi(out.c_str()));
}

// Moves the image out of the private directory that is about to go.
std::string keepImage(const std::string& image, pid_t pid) {
  const char* env = getenv("TMPDIR");
  std::string kept = fmt::format("{}/ckpt-migrate-{}-{}", env && *env ? env : "/var/tmp", pid,
                                 std::chrono::system_clock::now().time_since_epoch().count());
  std::filesystem::rename(image, kept);
  return kept;
}

}  // namespace

int migrateCommand(const MigrateOptions& opts) {
  if (opts.to.empty() || opts.to[0] == '-')
    throw Error("--to takes a host name ([user@]host); ssh options go in --ssh-option");
  const FarSide far = preflight(opts);

  TempDir tmp("ckpt-migrate-");
  const std::string image = tmp.path() + "/image";
  // A far side that goes away must come back as EPIPE, not kill ckpt while the tree is frozen.
  signal(SIGPIPE, SIG_IGN);
  std::optional<Subprocess> ssh;
  DumpRequest req;
  req.root = opts.pid;
  req.dir = image;
  req.kill = !opts.keepRunning;
  req.beforeRelease = [&](const std::string& dir) {
    checkFarSide(opts, dir);
    ssh.emplace(sshArgv(opts, "restore - --detach --json"));
    image::writeImageStream(dir, ssh->in().get(), "ssh to " + opts.to);
    ssh->in().reset();
  };
  DumpSummary s = dumpTree(req);

  std::string out;
  const int status = ssh->finish(out);
  nlohmann::json r = nlohmann::json::parse(out, nullptr, false);
  const bool restored = WIFEXITED(status) && r.is_object() && r.contains("root");
  if (!restored || WEXITSTATUS(status) != 0) {
    if (restored)  // the tree runs there, but a hook said something went wrong
      throw Error(fmt::format("restored on {} as pid {}, but a hook failed there (see above)",
                              opts.to, r["root"].get<int>()));
    const std::string what = fmt::format("the restore on {} failed ({}, see its message above)",
                                         opts.to, describeStatus(status));
    if (opts.keepRunning) throw Error(what + fmt::format("; pid {} runs on here", opts.pid));
    pid_t back = restoreHere(image);
    if (back > 0)
      throw Error(what + fmt::format("; the program was restored here again as pid {}", back));
    const std::string kept = keepImage(image, opts.pid);
    throw Error(what + fmt::format("; restoring it here failed too (see above): its image is "
                                   "kept in {}; once the cause is fixed, run: ckpt restore {}",
                                   kept, kept));
  }
  const int root = r["root"].get<int>();
  if (opts.json) {
    nlohmann::json j{{"host", opts.to},
                     {"root", root},
                     {"processes", r.value("processes", 0)},
                     {"source_pid", opts.pid},
                     {"source_killed", !opts.keepRunning},
                     {"remote_ckpt_version", far.version},
                     {"remote_kernel", far.kernel},
                     {"freeze_ms", s.freezeMs},
                     {"image_bytes", s.bytesOnDisk}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%d\n", root);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace ckpt::cli
