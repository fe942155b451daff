// Saving and recreating shared memory objects.
#include "core/mem/SharedObjects.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "core/image/Checksum.hpp"
#include "core/ipc/SysvIpc.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

constexpr uint64_t kPage = image::kPageSize;
constexpr uint64_t kChunk = 16ull << 20;

struct SysvInfo {
  int32_t key = 0;
  uint32_t mode = 0;
  uint64_t size = 0;
  uint32_t uid = 0, gid = 0;
  bool found = false;
};

SysvInfo sysvInfo(int shmid) {
  std::istringstream in(proc::readProcFile("/proc/sysvipc/shm"));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    long long key, id;
    std::string perms;
    unsigned long long size;
    long long cpid, lpid, nattch, uid, gid;
    if (!(f >> key >> id >> perms >> size >> cpid >> lpid >> nattch >> uid >> gid)) continue;
    if (id != shmid) continue;
    SysvInfo s;
    s.key = int32_t(key);
    s.mode = uint32_t(std::stoul(perms, nullptr, 8));
    s.size = size;
    s.uid = uint32_t(uid);
    s.gid = uint32_t(gid);
    s.found = true;
    return s;
  }
  return {};
}

bool isZero(const char* p) {
  const uint64_t* w = reinterpret_cast<const uint64_t*>(p);
  uint64_t acc = 0;
  for (size_t i = 0; i < kPage / 8; ++i) acc |= w[i];
  return acc == 0;
}

// Reads [from, to) of the object and appends its non-zero pages as runs.
void saveRange(int fd, uint64_t from, uint64_t to, image::DataFile& out,
               std::vector<image::PageRun>& runs, std::vector<char>& buf) {
  for (uint64_t pos = from; pos < to;) {
    uint64_t len = std::min(kChunk, to - pos);
    size_t got = 0;
    while (got < len) {
      ssize_t n = pread(fd, buf.data() + got, len - got, off_t(pos + got));
      if (n < 0) throwErrno("reading a shared memory object");
      if (n == 0) break;
      got += size_t(n);
    }
    std::memset(buf.data() + got, 0, len - got);
    for (uint64_t off = 0; off < len;) {
      bool zero = isZero(buf.data() + off);
      uint64_t end = off + kPage;
      while (end < len && isZero(buf.data() + end) == zero) end += kPage;
      image::PageRun run;
      run.addr = pos + off;
      run.npages = (end - off) / kPage;
      run.zero = zero;
      if (!zero) {
        auto w = out.append(buf.data() + off, end - off);
        run.offset = w.offset;
        run.xxh3 = w.xxh3;
      }
      runs.push_back(run);
      off = end;
    }
    pos += len;
  }
}

}  // namespace

int saveSharedObject(image::Image& img, image::ImageWriter& writer, int sharedFd,
                     image::VmaKind kind, const std::string& name) {
  // A description of our own: SEEK_DATA/SEEK_HOLE move the offset, and
  // `sharedFd` may share the program's.
  std::string self = fmt::format("/proc/self/fd/{}", sharedFd);
  UniqueFd own(::open(self.c_str(), O_RDONLY | O_CLOEXEC));
  if (!own) throwErrno("reopening shared memory object " + name);
  int fd = own.get();
  struct stat st {};
  if (fstat(fd, &st) != 0) throwErrno("fstat of a shared memory object " + name);
  for (const auto& o : img.objects)
    if (o.dev == uint64_t(st.st_dev) && o.ino == uint64_t(st.st_ino)) return o.id;
  image::SharedObject o;
  o.id = int(img.objects.size());
  o.kind = kind;
  o.dev = st.st_dev;
  o.ino = st.st_ino;
  o.size = uint64_t(st.st_size);
  o.name = name;
  o.mode = st.st_mode & 07777;
  if (kind == image::VmaKind::Sysv) {
    SysvInfo s = sysvInfo(int(st.st_ino));
    if (!s.found)
      throw Error(
          fmt::format("SysV shared memory segment {} is not in /proc/sysvipc/shm (another "
                      "IPC namespace?)",
                      st.st_ino));
    o.sysv_id = int32_t(st.st_ino);
    o.sysv_key = s.key;
    o.mode = s.mode & 0777;
    o.sysv_removed = (s.mode & 01000) != 0;  // SHM_DEST
    o.sysv_uid = s.uid;
    o.sysv_gid = s.gid;
    o.size = s.size;
  }
  if (kind == image::VmaKind::Memfd) {
    int seals = fcntl(fd, F_GET_SEALS);
    o.seals = seals < 0 ? 0 : seals;
  }
  o.data_file = fmt::format("object-{}.img", o.id);
  image::DataFile& out = writer.dataFile(o.data_file);
  std::vector<char> buf(kChunk);
  // Only the parts that hold data: holes read as zeros anyway.
  uint64_t size = (o.size + kPage - 1) & ~(kPage - 1);
  for (off_t pos = 0; uint64_t(pos) < size;) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) break;  // ENXIO: only a hole is left
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) hole = off_t(size);
    uint64_t from = uint64_t(data) & ~(kPage - 1);
    uint64_t to = std::min<uint64_t>(size, (uint64_t(hole) + kPage - 1) & ~(kPage - 1));
    saveRange(fd, from, to, out, o.runs, buf);
    pos = off_t(to);
  }
  img.objects.push_back(std::move(o));
  return img.objects.back().id;
}

SharedObjects::SharedObjects(const image::Image& img, const std::string& imageDir)
    : img_(img), imageDir_(imageDir) {
  for (const auto& o : img.objects) fds_.emplace(o.id, create(o));
}

SharedObjects::~SharedObjects() {
  if (finished_) return;
  for (int id : sysvIds_) shmctl(id, IPC_RMID, nullptr);
}

int SharedObjects::fd(int id) const {
  auto it = fds_.find(id);
  if (it == fds_.end()) throw Error(fmt::format("manifest: no memory object {}", id));
  return it->second.get();
}

const image::SharedObject& SharedObjects::object(int id) const {
  for (const auto& o : img_.objects)
    if (o.id == id) return o;
  throw Error(fmt::format("manifest: no memory object {}", id));
}

namespace {

void fill(int fd, const image::SharedObject& o, const std::string& imageDir) {
  if (o.runs.empty()) return;
  std::string path = imageDir + "/" + o.data_file;
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) throwErrno("opening " + path);
  std::vector<char> buf(kChunk);
  for (const auto& r : o.runs) {
    if (r.zero) continue;
    uint64_t len = r.npages * kPage;
    for (uint64_t done = 0; done < len;) {
      size_t n = size_t(std::min<uint64_t>(kChunk, len - done));
      if (pread(in.get(), buf.data(), n, off_t(r.offset + done)) != ssize_t(n))
        throw Error(fmt::format("{}: truncated", path));
      if (pwrite(fd, buf.data(), n, off_t(r.addr + done)) != ssize_t(n))
        throwErrno(fmt::format("filling memory object {} ({})", o.id, o.name));
      done += n;
    }
  }
}

// A MAP_SHARED|MAP_ANONYMOUS area of our own, reached as a file through
// map_files, so every process maps the very same "/dev/zero (deleted)".
UniqueFd createSharedAnon(uint64_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throwErrno(fmt::format("creating {} bytes of shared memory", size));
  uint64_t a = reinterpret_cast<uint64_t>(p);
  std::string path = fmt::format("/proc/self/map_files/{:x}-{:x}", a, a + size);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  int err = errno;
  munmap(p, size);
  if (!fd) throw SysError("opening " + path + " (needs CAP_CHECKPOINT_RESTORE)", err);
  return fd;
}

}  // namespace

UniqueFd SharedObjects::create(const image::SharedObject& o) {
  uint64_t size = (o.size + kPage - 1) & ~(kPage - 1);
  UniqueFd fd;
  switch (o.kind) {
    case image::VmaKind::SharedAnon:
      fd = createSharedAnon(size);
      break;
    case image::VmaKind::Memfd: {
      std::string name = o.name.rfind("memfd:", 0) == 0 ? o.name.substr(6) : o.name;
      fd.reset(int(memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING)));
      if (!fd) throwErrno("memfd_create " + name);
      if (ftruncate(fd.get(), off_t(o.size)) != 0) throwErrno("sizing memfd " + name);
      break;
    }
    case image::VmaKind::DeletedFile: {
      std::string path = o.name;
      fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, o.mode));
      for (int i = 0; !fd && errno == EEXIST && i < 100; ++i) {
        path = fmt::format("{}.ckpt-restore-{}-{}", o.name, getpid(), i);
        fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, o.mode));
      }
      if (!fd) throwErrno("recreating deleted file " + o.name);
      unlink(path.c_str());
      if (ftruncate(fd.get(), off_t(o.size)) != 0) throwErrno("sizing " + o.name);
      break;
    }
    case image::VmaKind::Sysv: {
      // The id comes from shm_next_id; a segment with that id or key must not exist.
      int id = ipc::createWithId("shm", o.sysv_id, [&] {
        return shmget(o.sysv_removed ? IPC_PRIVATE : key_t(o.sysv_key), size,
                      int(o.mode & 0777) | IPC_CREAT | IPC_EXCL);
      });
      int err = errno;
      if (id < 0 && err == EEXIST) {
        // The segment outlived the dumped processes (SysV segments do until
        // removed): if nobody uses it, it is brought back to its saved content.
        shmid_ds cur{};
        if (shmctl(o.sysv_id, IPC_STAT, &cur) == 0 && cur.shm_perm.__key == o.sysv_key &&
            cur.shm_nattch == 0 && cur.shm_segsz >= o.size) {
          id = o.sysv_id;
          log::info("reusing SysV shm segment {} (key {:#x}) left from the dump", id,
                    uint32_t(o.sysv_key));
        } else {
          throw Error(
              fmt::format("SysV shm key {:#x} or id {} is in use by another segment; "
                          "remove it (ipcrm) to restore",
                          uint32_t(o.sysv_key), o.sysv_id));
        }
      } else if (id < 0) {
        throw SysError(fmt::format("recreating SysV shm segment {} (key {:#x})", o.sysv_id,
                                   uint32_t(o.sysv_key)),
                       err);
      } else {
        sysvIds_.push_back(id);
      }
      if (id != o.sysv_id)
        throw Error(
            fmt::format("SysV shm segment {} came back as {}; is the id taken?", o.sysv_id, id));
      shmid_ds ds{};
      shmctl(id, IPC_STAT, &ds);
      ds.shm_perm.uid = o.sysv_uid;
      ds.shm_perm.gid = o.sysv_gid;
      ds.shm_perm.mode = o.mode & 0777;
      if (shmctl(id, IPC_SET, &ds) != 0)
        throwErrno("setting owner of SysV shm " + std::to_string(id));
      void* p = shmat(id, nullptr, 0);
      if (p == reinterpret_cast<void*>(-1)) throwErrno("attaching SysV shm " + std::to_string(id));
      uint64_t a = reinterpret_cast<uint64_t>(p);
      std::string path = fmt::format("/proc/self/map_files/{:x}-{:x}", a, a + size);
      fd.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
      int e = errno;
      shmdt(p);
      if (!fd) throw SysError("opening " + path, e);
      break;
    }
    default:
      throw Error(fmt::format("manifest: memory object {} has kind {} which is not shared", o.id,
                              int(o.kind)));
  }
  fill(fd.get(), o, imageDir_);
  return fd;
}

void SharedObjects::finish() {
  for (const auto& o : img_.objects) {
    if (o.kind == image::VmaKind::Memfd && o.seals && fcntl(fd(o.id), F_ADD_SEALS, o.seals) != 0)
      throwErrno(fmt::format("sealing memfd {}", o.name));
    if (o.kind == image::VmaKind::Sysv && o.sysv_removed) shmctl(o.sysv_id, IPC_RMID, nullptr);
  }
  finished_ = true;
}

}  // namespace ckpt
