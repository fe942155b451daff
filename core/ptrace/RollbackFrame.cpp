// The self-restoring signal frame behind safe injection (RollbackFrame.hpp).
#include "core/ptrace/RollbackFrame.hpp"

#include <sys/syscall.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/ptrace/Tracee.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

constexpr uint64_t kRedZone = 128;
constexpr size_t kScratch = 1024;
constexpr size_t kMaxScan = size_t{64} << 20;  // bytes of code searched per process
constexpr uint32_t kFpXstateMagic1 = 0x46505853;
constexpr uint32_t kFpXstateMagic2 = 0x46505845;
constexpr size_t kSwReservedAt = 464;  // struct _fpx_sw_bytes inside the fxsave area
// uc_flags as the kernel sets them: UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS.
constexpr uint64_t kUcFlags = 0x1 | 0x2 | 0x4;
// An ss_flags value sigaltstack() rejects: rt_sigreturn then leaves the
// thread's alternate stack as it is (it ignores that error).
constexpr int32_t kKeepAltstack = 0x40;

constexpr long kERestartSys = 512, kERestartNoIntr = 513, kERestartNoHand = 514,
               kERestartRestartBlock = 516;

struct SigContext {  // the kernel's struct sigcontext (x86-64)
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip,
      eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2, fpstate;
  uint64_t reserved[8];
};
static_assert(sizeof(SigContext) == 256);

struct RtSigframe {  // struct rt_sigframe up to the ucontext; siginfo is not read back
  uint64_t pretcode;
  uint64_t ucFlags, ucLink;
  uint64_t ssSp;
  int32_t ssFlags, pad;
  uint64_t ssSize;
  SigContext mcontext;
  uint64_t sigmask;
};

struct FpxSwBytes {
  uint32_t magic1, extendedSize;
  uint64_t xfeatures;
  uint32_t xstateSize;
  uint32_t padding[7];
};

const std::string_view kSyscallRet("\x0f\x05\xc3", 3);
const std::string_view kRestoreRt("\x48\xc7\xc0\x0f\x00\x00\x00\x0f\x05", 9);

// The address of a cached gadget in a process with these (executable, file) mappings,
// if its bytes are there.
RemotePtr lookUp(const std::vector<proc::MapsEntry>& maps, RemoteMemory& mem,
                 const GadgetCache::Where& w, std::string_view bytes) {
  for (const auto& m : maps) {
    if (m.dev != w.dev || m.inode != w.inode || w.filePos < m.offset ||
        w.filePos + bytes.size() > m.offset + (m.end - m.start))
      continue;
    RemotePtr at(m.start + (w.filePos - m.offset));
    std::string there(bytes.size(), '\0');
    try {
      mem.read(at, there.data(), there.size());
    } catch (const Error&) {
      return {};
    }
    return there == bytes ? at : RemotePtr();
  }
  return {};
}

GadgetCache::Where whereIs(const proc::MapsEntry& m, uint64_t at) {
  return {m.dev, m.inode, m.offset + (at - m.start)};
}

}  // namespace

std::optional<RollbackGadgets> RollbackGadgets::find(pid_t pid, GadgetCache* cache) {
  auto maps = proc::parseMaps(proc::readProcFile(fmt::format("/proc/{}/maps", pid)));
  std::erase_if(maps, [](const proc::MapsEntry& m) {
    return !(m.prot & 4) || m.path.empty() || m.path[0] == '[';
  });
  if (cache && cache->syscallRet && cache->restoreRt) {
    RemoteMemory mem(pid);
    RemotePtr syscallRet = lookUp(maps, mem, *cache->syscallRet, kSyscallRet);
    RemotePtr restoreRt = lookUp(maps, mem, *cache->restoreRt, kRestoreRt);
    if (syscallRet && restoreRt) return RollbackGadgets{syscallRet, restoreRt};
  }
  // libc first: both are there.
  std::stable_partition(maps.begin(), maps.end(), [](const proc::MapsEntry& m) {
    return m.path.find("/libc.so") != std::string::npos ||
           m.path.find("/libc.musl") != std::string::npos;
  });
  RemoteMemory mem(pid);
  RemotePtr syscallRet, restoreRt;
  size_t scanned = 0;
  std::string code;
  for (const auto& m : maps) {
    if (syscallRet && restoreRt) break;
    size_t len = size_t(m.end - m.start);
    if (scanned + len > kMaxScan) break;
    scanned += len;
    code.resize(len);
    try {
      mem.read(RemotePtr(m.start), code.data(), len);
    } catch (const Error&) {
      continue;
    }
    if (!syscallRet)
      if (auto at = code.find(kSyscallRet); at != std::string::npos) {
        syscallRet = RemotePtr(m.start + at);
        if (cache) cache->syscallRet = whereIs(m, m.start + at);
      }
    if (!restoreRt)
      if (auto at = code.find(kRestoreRt); at != std::string::npos) {
        restoreRt = RemotePtr(m.start + at);
        if (cache) cache->restoreRt = whereIs(m, m.start + at);
      }
  }
  if (!syscallRet || !restoreRt) return std::nullopt;
  return RollbackGadgets{syscallRet, restoreRt};
}

user_regs_struct restartedSyscallRegs(const user_regs_struct& regs) {
  user_regs_struct r = regs;
  long err = -(long)r.rax;
  if ((long)r.orig_rax >= 0 && (err == kERestartSys || err == kERestartNoIntr ||
                                err == kERestartNoHand || err == kERestartRestartBlock)) {
    r.rax = r.orig_rax;
    r.rip -= 2;
  }
  r.orig_rax = (uint64_t)-1;
  return r;
}

std::optional<RollbackFrame> writeRollbackFrame(const Tracee& tracee, RemoteMemory& mem,
                                                const RollbackGadgets& gadgets,
                                                const user_regs_struct& saved, uint64_t savedMask) {
  // PTRACE_GETREGSET gives the XSAVE layout of a signal frame, with XCR0
  // where a frame has its software-reserved bytes: put those there (the
  // first magic word, sizes, the features to restore), the second magic
  // word right after the state, and the state 64-byte aligned.
  std::vector<uint8_t> fp = tracee.getXstate();
  FpxSwBytes sw{};
  if (fp.size() < kSwReservedAt + sizeof sw) return std::nullopt;
  uint64_t xcr0 = 0;
  std::memcpy(&xcr0, fp.data() + kSwReservedAt, sizeof xcr0);
  if (xcr0 == 0) {
    log::debug("tid {}: FPU state without XCR0; injection without rollback", tracee.tid());
    return std::nullopt;
  }
  sw.magic1 = kFpXstateMagic1;
  sw.xstateSize = uint32_t(fp.size());
  sw.extendedSize = uint32_t(fp.size() + sizeof kFpXstateMagic2);
  sw.xfeatures = xcr0;
  std::memcpy(fp.data() + kSwReservedAt, &sw, sizeof sw);
  fp.resize(fp.size() + sizeof kFpXstateMagic2);
  std::memcpy(fp.data() + sw.xstateSize, &kFpXstateMagic2, sizeof kFpXstateMagic2);

  uint64_t fpAt = (saved.rsp - kRedZone - fp.size()) & ~uint64_t{63};
  uint64_t frameAt = ((fpAt - sizeof(RtSigframe)) & ~uint64_t{15}) - 8;
  uint64_t scratchAt = (frameAt - kScratch) & ~uint64_t{63};

  user_regs_struct r = restartedSyscallRegs(saved);
  RtSigframe f{};
  f.pretcode = gadgets.restoreRt.addr();
  f.ucFlags = kUcFlags;
  f.ssFlags = kKeepAltstack;
  SigContext& sc = f.mcontext;
  sc.r8 = r.r8, sc.r9 = r.r9, sc.r10 = r.r10, sc.r11 = r.r11;
  sc.r12 = r.r12, sc.r13 = r.r13, sc.r14 = r.r14, sc.r15 = r.r15;
  sc.rdi = r.rdi, sc.rsi = r.rsi, sc.rbp = r.rbp, sc.rbx = r.rbx;
  sc.rdx = r.rdx, sc.rax = r.rax, sc.rcx = r.rcx, sc.rsp = r.rsp, sc.rip = r.rip;
  sc.eflags = r.eflags;
  sc.cs = uint16_t(r.cs);
  sc.ss = uint16_t(r.ss);
  sc.fpstate = fpAt;
  f.sigmask = savedMask;
  try {
    mem.write(RemotePtr(fpAt), fp.data(), fp.size());
    mem.write(RemotePtr(frameAt), &f, sizeof f);
    // Touch the scratch too: a stack that cannot hold it fails here, not
    // in the middle of a call.
    std::vector<uint8_t> zero(kScratch);
    mem.write(RemotePtr(scratchAt), zero.data(), zero.size());
  } catch (const Error& e) {
    log::debug("tid {}: no room below the stack pointer for a rollback frame ({})", tracee.tid(),
               e.what());
    return std::nullopt;
  }

  RollbackFrame out;
  out.idle = saved;
  out.idle.rip = gadgets.syscallRet.addr();
  out.idle.rsp = frameAt;
  out.idle.rax = SYS_getpid;  // let go before any call: a harmless one, then the frame
  out.idle.orig_rax = (uint64_t)-1;
  out.scratch = RemotePtr(scratchAt);
  out.scratchSize = kScratch;
  return out;
}

}  // namespace ckpt
