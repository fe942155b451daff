// Restore's pre-flight checks (see Preflight.hpp).
#include "core/restore/Preflight.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "core/image/Checksum.hpp"
#include "core/image/FileFingerprint.hpp"
#include "core/proc/Vdso.hpp"
#include "core/util/Error.hpp"

namespace ckpt {
namespace {

std::string thisKernel() {
  struct utsname u {};
  uname(&u);
  return u.release;
}

// The program keeps addresses inside the vDSO (glibc caches its functions,
// a thread may sleep in a call made from there): sizes and code must match.
void checkVdso(const image::Image& img) {
  if (img.vdso_layout.empty()) return;
  const proc::VdsoArea here = proc::thisKernelVdso();
  for (size_t i = 0; i < here.sizes.size() && i < img.vdso_layout.size(); ++i)
    if (img.vdso_layout[i] != here.sizes[i])
      throw Error(fmt::format(
          "the image comes from another kernel ({}, this is {}): its {} is {} bytes, this "
          "kernel's is {}; restore it on the kernel it was dumped on",
          img.kernel, thisKernel(), proc::vdsoAreaName(i), img.vdso_layout[i], here.sizes[i]));
  if (img.vdso_xxh3 && img.vdso_xxh3 != here.xxh3)
    throw Error(fmt::format(
        "the image comes from another kernel build ({}, this is {}): its [vdso] code differs "
        "(xxh3 {} then, {} here) and the program holds addresses inside it; restore it on the "
        "kernel it was dumped on",
        img.kernel, thisKernel(), image::xxh3Hex(img.vdso_xxh3), image::xxh3Hex(here.xxh3)));
}

// Without privilege a restored process keeps the caller's credentials, so an
// image of another user's process, or of a setuid program (whose saved uid
// is root), would silently become the caller's: refuse it instead.
void checkPrivilege(const image::Image& img) {
  if (geteuid() == 0) return;
  const uid_t me = getuid();
  const gid_t myGid = getgid();
  // uid or gid: the first of real, effective, saved, fs that is not ours.
  auto checkIds = [](pid_t pid, const std::array<uint32_t, 4>& ids, uint32_t mine, const char* kind,
                     const char* whose, const char* what) {
    static const char* const which[] = {"real", "effective", "saved", "filesystem"};
    for (size_t i = 0; i < 4; ++i)
      if (ids[i] != mine)
        throw Error(fmt::format(
            "the image holds pid {} whose {} {} is {} ({}s {}/{}/{}/{}), and {} {}: only root "
            "can restore processes of {}",
            pid, which[i], kind, ids[i], kind, ids[0], ids[1], ids[2], ids[3], whose, mine, what));
  };
  for (const auto& p : img.processes) {
    if (p.zombie) continue;
    const auto& c = p.creds;
    checkIds(p.pid, c.uid, me, "uid", "you are uid", "another user or of a setuid program");
    checkIds(p.pid, c.gid, myGid, "gid", "your gid is", "another group or of a setgid program");
    if (c.cap_prm || c.cap_eff || c.cap_amb)
      throw Error(fmt::format(
          "the image holds pid {} with capabilities (permitted {:#x}); only root can give them "
          "back",
          p.pid, c.cap_prm));
  }
}

// Which pid maps each file, for the message.
std::map<std::string, pid_t> mappingPids(const image::Image& img) {
  std::map<std::string, pid_t> out;
  for (const auto& p : img.processes)
    for (const auto& v : p.vmas)
      if (v.kind == image::VmaKind::File) out.emplace(v.name, p.pid);
  return out;
}

}  // namespace

void checkMappedFiles(const image::Image& img) {
  const auto pids = mappingPids(img);
  for (const auto& then : img.mapped_files) {
    auto it = pids.find(then.path);
    const pid_t pid = it == pids.end() ? img.root_pid : it->second;
    image::MappedFile now;
    try {
      now = image::fingerprintFile(then.path);
    } catch (const SysError& e) {
      throw Error(fmt::format(
          "pid {}: mapped file {} cannot be read here ({}); restore needs it as it was at "
          "the dump",
          pid, then.path, std::strerror(e.err())));
    }
    const std::string change = image::howFileChanged(then, now);
    if (!change.empty())
      throw Error(fmt::format(
          "pid {}: mapped file {} changed since the dump: {}; the pages the program did not "
          "write come from this file, so put it back as it was or restore where it is",
          pid, then.path, change));
  }
}

namespace {

// Files open at dump are reopened by path: they must still be there, the
// same file (as RegularFile's restore checks again when it opens them).
void checkOpenFiles(const image::Image& img) {
  for (const auto& f : img.files) {
    if (f.kind != image::FileKind::Regular && f.kind != image::FileKind::Directory) continue;
    struct stat st {};
    if (stat(f.path.c_str(), &st) != 0)
      throwErrno(fmt::format("file {} (open at dump) is gone", f.path));
    if (st.st_ino != f.ino || st.st_dev != f.dev)
      throw Error(fmt::format(
          "file {} was replaced since the dump (inode {} then, {} now); restore it or move it "
          "back",
          f.path, f.ino, st.st_ino));
  }
}

}  // namespace

void checkImageFitsHereQuickly(const image::Image& img) {
  checkVdso(img);
  checkPrivilege(img);
  checkOpenFiles(img);
}

void checkImageFitsHere(const image::Image& img) {
  checkVdso(img);
  checkPrivilege(img);
  checkMappedFiles(img);
  checkOpenFiles(img);
}

}  // namespace ckpt
