// The /proc parsers on text captured from real processes (tests/unit/data/proc,
// see its README), on hand-made malformed text, and on this process's own /proc.
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

using namespace ckpt::proc;

namespace {

std::string data(const std::string& name) {
  std::string path = std::string(CKPT_TEST_DATA_DIR) + "/proc/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing test data " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The message of the ckpt::Error that f throws; fails the test if it throws
// nothing or something else.
template <typename F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const ckpt::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-ckpt exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

const MapsEntry* findPath(const std::vector<MapsEntry>& maps, const std::string& path) {
  for (const auto& e : maps) {
    if (e.path == path) return &e;
  }
  return nullptr;
}

bool hasFlag(const std::vector<std::string>& flags, const std::string& f) {
  return std::find(flags.begin(), flags.end(), f) != flags.end();
}

// A whole stat line with comm replaced, from the captured process.
std::string statWithComm(const std::string& comm) {
  std::string text = data("capture.stat");
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  return text.substr(0, open + 1) + comm + text.substr(close);
}

// The line as error messages show it.
std::string escapeTabs(const std::string& line) {
  std::string out;
  for (char c : line) out += c == '\t' ? std::string("\\x09") : std::string(1, c);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- maps

TEST(ProcMaps, CapturedProcess) {
  auto maps = parseMaps(data("capture.maps"));
  ASSERT_EQ(maps.size(), 38u);

  const auto& exe = maps[1];  // 55682a9d3000-55682a9d4000 r-xp 00001000 fe:00 10952859
  EXPECT_EQ(exe.start, 0x55682a9d3000u);
  EXPECT_EQ(exe.end, 0x55682a9d4000u);
  EXPECT_EQ(exe.prot, PROT_READ | PROT_EXEC);
  EXPECT_FALSE(exe.shared);
  EXPECT_EQ(exe.offset, 0x1000u);
  EXPECT_EQ(exe.dev, makedev(0xfe, 0));
  EXPECT_EQ(exe.inode, 10952859u);
  EXPECT_EQ(exe.path, "/tmp/cap/capture");
  EXPECT_FALSE(exe.deleted);

  const auto& anon = maps[6];  // no name: the line ends in "0 "
  EXPECT_EQ(anon.start, 0x7f54cda00000u);
  EXPECT_EQ(anon.prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(anon.path, "");
  EXPECT_EQ(anon.dev, 0u);
  EXPECT_EQ(anon.inode, 0u);

  EXPECT_EQ(maps[8].prot, PROT_READ | PROT_WRITE | PROT_EXEC);
  EXPECT_EQ(maps[9].prot, 0);  // ---p guard page

  const auto* deleted = findPath(maps, "/tmp/cap/del me.bin");
  ASSERT_NE(deleted, nullptr);
  EXPECT_TRUE(deleted->deleted);
  EXPECT_TRUE(deleted->shared);
  EXPECT_EQ(deleted->prot, PROT_READ | PROT_WRITE);

  const auto* spaced = findPath(maps, "/tmp/cap/keep me.txt");
  ASSERT_NE(spaced, nullptr);
  EXPECT_FALSE(spaced->deleted);

  const auto* shmem = findPath(maps, "/dev/zero");
  ASSERT_NE(shmem, nullptr);
  EXPECT_TRUE(shmem->deleted);
  EXPECT_TRUE(shmem->shared);
  EXPECT_EQ(shmem->dev, makedev(0, 1));

  const auto* memfd = findPath(maps, "/memfd:ckpt-memfd");
  ASSERT_NE(memfd, nullptr);
  EXPECT_TRUE(memfd->deleted);

  for (const char* special : {"[heap]", "[stack]", "[vvar]", "[vvar_vclock]", "[vdso]"}) {
    const auto* e = findPath(maps, special);
    ASSERT_NE(e, nullptr) << special;
    EXPECT_FALSE(e->deleted);
  }
  const auto& vsyscall = maps.back();
  EXPECT_EQ(vsyscall.path, "[vsyscall]");
  EXPECT_EQ(vsyscall.start, 0xffffffffff600000u);
  EXPECT_EQ(vsyscall.end, 0xffffffffff601000u);
  EXPECT_EQ(vsyscall.prot, PROT_EXEC);
}

TEST(ProcMaps, Bash) {
  auto maps = parseMaps(data("bash.maps"));
  ASSERT_EQ(maps.size(), 43u);
  EXPECT_EQ(maps[0].path, "/usr/bin/bash");
  EXPECT_NE(findPath(maps, "[heap]"), nullptr);
  EXPECT_NE(findPath(maps, "[stack]"), nullptr);
}

TEST(ProcMaps, SpecialNamesAndLargeDevices) {
  auto maps = parseMaps(
      "7f0000000000-7f0000002000 r--p 00000000 00:00 0                          [anon:ckpt test]\n"
      "7f0000002000-7f0000003000 rw-s 00000000 00:01 7                          "
      "[anon_shmem:buf]\n"
      "7f0000003000-7f0000004000 r--s 00001000 103:1a 99                        "
      "/x (deleted) (deleted)\n"
      "7f0000004000-7f0000005000 rw-p 00000000 00:00 0\n"
      "08048000-08049000 r-xp 00000000 08:01 12 /a b  c\n");
  ASSERT_EQ(maps.size(), 5u);
  EXPECT_EQ(maps[0].path, "[anon:ckpt test]");
  EXPECT_EQ(maps[1].path, "[anon_shmem:buf]");
  EXPECT_TRUE(maps[1].shared);
  // Only the kernel's own suffix goes.
  EXPECT_EQ(maps[2].path, "/x (deleted)");
  EXPECT_TRUE(maps[2].deleted);
  EXPECT_EQ(maps[2].dev, makedev(0x103, 0x1a));
  EXPECT_EQ(maps[2].offset, 0x1000u);
  EXPECT_EQ(maps[3].path, "");  // no trailing space at all
  EXPECT_EQ(maps[4].start, 0x08048000u);
  EXPECT_EQ(maps[4].path, "/a b  c");  // inner blanks kept
}

TEST(ProcMaps, EmptyText) {
  EXPECT_TRUE(parseMaps("").empty());
}

TEST(ProcMaps, MalformedLinesNameTheLine) {
  const std::string good = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n";
  EXPECT_EQ(errorOf([&] { parseMaps(good + "garbage\n"); }), "maps: bad line 2: 'garbage'");
  const char* bad[] = {
      "7f0000001000-7f0000000000 rw-p 00000000 00:00 0",   // end before start
      "7f0000000000-7f0000000000 rw-p 00000000 00:00 0",   // empty
      "7f0000000000 rw-p 00000000 00:00 0",                // no end
      "7f000000000g-7f0000001000 rw-p 00000000 00:00 0",   // not hex
      "7f0000000000-7f0000001000 rwzp 00000000 00:00 0",   // bad permission letter
      "7f0000000000-7f0000001000 rw-x 00000000 00:00 0",   // neither s nor p
      "7f0000000000-7f0000001000 rw- 00000000 00:00 0",    // short permissions
      "7f0000000000-7f0000001000 rw-p 0000000z 00:00 0",   // bad offset
      "7f0000000000-7f0000001000 rw-p 00000000 0000 0",    // no minor
      "7f0000000000-7f0000001000 rw-p 00000000 00:00",     // no inode
      "7f0000000000-7f0000001000 rw-p 00000000 00:00 -1",  // negative inode
      "7f0000000000-7f0000001000  rw-p 00000000 00:00 0",  // two spaces
      "-7f0000001000 rw-p 00000000 00:00 0",
      "7f0000000000-7f0000001000 rw-p 00000000 00:00 0x0",
      "ffffffffffffffffff-fffffffffffffffffff rw-p 00000000 00:00 0",  // too big
  };
  for (const char* line : bad) {
    std::string msg = errorOf([&] { parseMaps(good + line + "\n"); });
    EXPECT_EQ(msg, std::string("maps: bad line 2: '") + line + "'") << line;
  }
  // Control bytes are shown escaped, long lines cut.
  EXPECT_EQ(errorOf([] { parseMaps("a\tb\x01"); }), "maps: bad line 1: 'a\\x09b\\x01'");
  std::string msg = errorOf([] { parseMaps(std::string(1000, 'x')); });
  EXPECT_LT(msg.size(), 200u);
  EXPECT_NE(msg.find("...'"), std::string::npos);
}

// ---------------------------------------------------------------- smaps

TEST(ProcSmaps, VmFlagsOfCapturedProcess) {
  auto flags = parseSmapsVmFlags(data("capture.smaps"));
  auto maps = parseMaps(data("capture.maps"));
  ASSERT_EQ(flags.size(), maps.size());
  for (const auto& e : maps) EXPECT_TRUE(flags.contains(e.start)) << std::hex << e.start;

  EXPECT_EQ(flags.at(0x55682a9d2000), (std::vector<std::string>{"rd", "mr", "mw", "me"}));
  EXPECT_TRUE(hasFlag(flags.at(findPath(maps, "[stack]")->start), "gd"));
  EXPECT_TRUE(hasFlag(flags.at(0x7f54cda00000), "hg"));  // MADV_HUGEPAGE
  EXPECT_TRUE(hasFlag(flags.at(0x7f54cf0f5000), "dd"));  // MADV_DONTDUMP
  EXPECT_TRUE(hasFlag(flags.at(findPath(maps, "/memfd:ckpt-memfd")->start), "sh"));
  EXPECT_TRUE(hasFlag(flags.at(findPath(maps, "[vvar]")->start), "pf"));
  EXPECT_EQ(flags.at(0xffffffffff600000), (std::vector<std::string>{"ex"}));
}

TEST(ProcSmaps, AnonHugePages) {
  auto thp = parseSmapsAnonHugePages(data("capture.smaps"));
  ASSERT_EQ(thp.size(), 38u);
  EXPECT_EQ(thp.at(0x7f54cda00000), 2048u);
  uint64_t total = 0;
  for (const auto& [start, kb] : thp) total += kb;
  EXPECT_EQ(total, 2048u);  // only the advised area has a huge page
}

TEST(ProcSmaps, OtherKbFields) {
  auto size = parseSmapsKb(data("capture.smaps"), "Size");
  EXPECT_EQ(size.at(0x7f54cda00000), 2048u);
  EXPECT_EQ(size.at(0x55682a9d2000), 4u);
  EXPECT_TRUE(parseSmapsKb(data("capture.smaps"), "NoSuchField").empty());
}

TEST(ProcSmaps, VmaWithoutVmFlagsHasNoEntry) {
  auto flags = parseSmapsVmFlags(
      "00400000-00401000 r-xp 00000000 08:01 5 /bin/x\n"
      "Size:                  4 kB\n"
      "00401000-00402000 rw-p 00000000 00:00 0\n"
      "VmFlags: rd wr \n");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags.at(0x401000), (std::vector<std::string>{"rd", "wr"}));
}

TEST(ProcSmaps, Malformed) {
  EXPECT_EQ(errorOf([] { parseSmapsVmFlags("VmFlags: rd\n"); }),
            "smaps: bad line 1: 'VmFlags: rd'");
  EXPECT_EQ(errorOf([] { parseSmapsVmFlags("00400000-00401000 r-xp 00000000 08:01 5 /x\nbad\n"); }),
            "smaps: bad line 2: 'bad'");
  EXPECT_EQ(errorOf([] {
              parseSmapsAnonHugePages(
                  "00400000-00401000 r-xp 00000000 08:01 5 /x\nAnonHugePages: lots kB\n");
            }),
            "smaps: bad line 2: 'AnonHugePages: lots kB'");
  EXPECT_EQ(errorOf([] {
              parseSmapsAnonHugePages(
                  "00400000-00401000 r-xp 00000000 08:01 5 /x\nAnonHugePages: 4 MB\n");
            }),
            "smaps: bad line 2: 'AnonHugePages: 4 MB'");
}

// ---------------------------------------------------------------- stat

TEST(ProcStat, CapturedProcessWithParenthesesInComm) {
  auto st = parseStat(data("capture.stat"));
  EXPECT_EQ(st.pid, 3632);
  EXPECT_EQ(st.comm, "a) b (c");
  EXPECT_EQ(st.state, 'S');
  EXPECT_EQ(st.ppid, 1);
  EXPECT_EQ(st.pgrp, 3624);
  EXPECT_EQ(st.session, 2194);
  EXPECT_EQ(st.tty_nr, 0);
  EXPECT_EQ(st.tpgid, -1);
  EXPECT_EQ(st.flags, 4194304u);
  EXPECT_EQ(st.num_threads, 3);
  EXPECT_EQ(st.start_code, 93905879904256u);
  EXPECT_EQ(st.end_code, 93905879906669u);
  EXPECT_EQ(st.start_stack, 140733206453136u);
  EXPECT_EQ(st.exit_signal, SIGCHLD);
  EXPECT_EQ(st.start_data, 93905879915984u);
  EXPECT_EQ(st.end_data, 93905879916832u);
  EXPECT_EQ(st.start_brk, 93906693406720u);
  EXPECT_EQ(st.arg_start, 140733206454188u);
  EXPECT_EQ(st.arg_end, 140733206454211u);
  EXPECT_EQ(st.env_start, 140733206454211u);
  EXPECT_EQ(st.env_end, 140733206454254u);
  EXPECT_EQ(st.exit_code, 0);

  // The stack and the heap are where maps says.
  auto maps = parseMaps(data("capture.maps"));
  const auto* stack = findPath(maps, "[stack]");
  ASSERT_NE(stack, nullptr);
  EXPECT_GE(st.start_stack, stack->start);
  EXPECT_LT(st.start_stack, stack->end);
  EXPECT_EQ(st.start_brk, findPath(maps, "[heap]")->start);
}

TEST(ProcStat, Thread) {
  auto st = parseStat(data("capture_thread.stat"));
  EXPECT_EQ(st.pid, 3637);
  EXPECT_EQ(st.comm, "worker (1)");
  EXPECT_EQ(st.num_threads, 3);
  EXPECT_EQ(st.exit_signal, -1);  // not a thread group leader
  EXPECT_EQ(st.pgrp, 3624);
}

TEST(ProcStat, Zombie) {
  auto st = parseStat(data("zombie.stat"));
  EXPECT_EQ(st.state, 'Z');
  EXPECT_EQ(st.ppid, 3632);
  EXPECT_EQ(st.start_code, 0u);
  EXPECT_TRUE(WIFEXITED(st.exit_code));
  EXPECT_EQ(WEXITSTATUS(st.exit_code), 3);
}

TEST(ProcStat, KernelThreadAndBash) {
  auto k = parseStat(data("kthread.stat"));
  EXPECT_EQ(k.pid, 2);
  EXPECT_EQ(k.comm, "kthreadd");
  EXPECT_EQ(k.ppid, 0);
  EXPECT_EQ(k.start_code, 0u);
  EXPECT_EQ(k.env_end, 0u);
  auto b = parseStat(data("bash.stat"));
  EXPECT_EQ(b.comm, "bash");
  EXPECT_EQ(b.pid, 4277);
}

TEST(ProcStat, CommMayHoldAnything) {
  EXPECT_EQ(parseStat(statWithComm(") (")).comm, ") (");
  EXPECT_EQ(parseStat(statWithComm("x) S 1 2 3")).comm, "x) S 1 2 3");
  EXPECT_EQ(parseStat(statWithComm("two\nlines")).comm, "two\nlines");
  EXPECT_EQ(parseStat(statWithComm("")).comm, "");
  auto st = parseStat(statWithComm("((()))"));
  EXPECT_EQ(st.comm, "((()))");
  EXPECT_EQ(st.ppid, 1);
}

TEST(ProcStat, Malformed) {
  EXPECT_EQ(errorOf([] { parseStat(""); }), "stat: bad text: ''");
  EXPECT_EQ(errorOf([] { parseStat("12 x R 1"); }), "stat: bad text: '12 x R 1'");
  EXPECT_EQ(errorOf([] { parseStat("12 )x( R 1"); }), "stat: bad text: '12 )x( R 1'");
  EXPECT_EQ(errorOf([] { parseStat("x (a) R 1"); }), "stat: bad pid in 'x (a) R 1'");
  EXPECT_EQ(errorOf([] { parseStat("12 (a) R 1 2 3\n"); }),
            "stat: 6 fields, need 52: '12 (a) R 1 2 3\\x0a'");
  // Linux before 3.5 had 44 fields.
  std::string text = data("capture.stat");
  std::string old = text.substr(0, text.find(" 93905879915984"));
  EXPECT_NE(errorOf([&] { parseStat(old); }).find("stat: 44 fields, need 52"), std::string::npos);

  std::string badState = text;
  badState.replace(badState.find(") S ") + 2, 1, "SS");
  EXPECT_EQ(errorOf([&] { parseStat(badState); }), "stat: bad field 3: 'SS'");
  std::string badPpid = text;
  badPpid.replace(badPpid.find(" 1 3624 "), 3, " x ");
  EXPECT_EQ(errorOf([&] { parseStat(badPpid); }).substr(0, 24), "stat: bad field 4: 'x' i");
  std::string badFlags = text;
  badFlags.replace(badFlags.find(" 4194304 "), 9, " -4194304 ");  // %u: never negative
  EXPECT_EQ(errorOf([&] { parseStat(badFlags); }).substr(0, 30), "stat: bad field 9: '-4194304' ");
}

// ---------------------------------------------------------------- status

TEST(ProcStatus, CapturedProcess) {
  auto st = parseStatus(data("capture.status"));
  EXPECT_EQ(st.name, "a) b (c");
  ASSERT_TRUE(st.umask.has_value());
  EXPECT_EQ(*st.umask, 022u);
  EXPECT_EQ(st.state, 'S');
  EXPECT_EQ(st.tgid, 3632);
  EXPECT_EQ(st.pid, 3632);
  EXPECT_EQ(st.ppid, 1);
  EXPECT_EQ(st.tracer_pid, 0);
  EXPECT_EQ(st.uid, (std::array<uint32_t, 4>{0, 0, 0, 0}));
  EXPECT_EQ(st.gid, (std::array<uint32_t, 4>{0, 0, 0, 0}));
  EXPECT_TRUE(st.groups.empty());  // "Groups:\t \n"
  EXPECT_EQ(st.ns_tgid, std::vector<int32_t>{3632});
  EXPECT_EQ(st.ns_pid, std::vector<int32_t>{3632});
  EXPECT_EQ(st.threads, 3);
  EXPECT_EQ(st.sigq_queued, 4u);
  EXPECT_EQ(st.sigq_limit, 96365u);
  EXPECT_EQ(st.sig_pnd, 0u);
  EXPECT_EQ(st.shd_pnd, 0u);
  // SIGHUP and SIGUSR2 blocked; SIGPIPE ignored (and the 2 of glibc's own).
  EXPECT_EQ(st.sig_blk, (1ull << (SIGHUP - 1)) | (1ull << (SIGUSR2 - 1)));
  EXPECT_EQ(st.sig_ign, 0x1006u);
  EXPECT_TRUE(st.sig_ign & (1ull << (SIGPIPE - 1)));
  EXPECT_EQ(st.sig_cgt, 0x0000000100000000u);
  EXPECT_EQ(st.cap_inh, 0u);
  EXPECT_EQ(st.cap_prm, 0x000001fffeffffffu);
  EXPECT_EQ(st.cap_eff, 0x000001fffeffffffu);
  EXPECT_EQ(st.cap_bnd, 0x000001fffeffffffu);
  EXPECT_EQ(st.cap_amb, 0u);
  EXPECT_EQ(st.no_new_privs, false);
  EXPECT_EQ(st.seccomp, 0);
  EXPECT_EQ(st.rss_anon_kb, 2160u);
  EXPECT_EQ(st.vm_swap_kb, 0u);
}

TEST(ProcStatus, ThreadZombieKernelThreadBash) {
  auto t = parseStatus(data("capture_thread.status"));
  EXPECT_EQ(t.name, "worker (1)");
  EXPECT_EQ(t.pid, 3637);
  EXPECT_EQ(t.tgid, 3632);
  EXPECT_EQ(t.sig_blk, 0u);

  auto z = parseStatus(data("zombie.status"));
  EXPECT_EQ(z.state, 'Z');
  EXPECT_FALSE(z.umask.has_value());  // a zombie has no fs_struct
  EXPECT_EQ(z.ppid, 3632);
  EXPECT_FALSE(z.rss_anon_kb.has_value());  // no mm

  auto k = parseStatus(data("kthread.status"));
  EXPECT_EQ(k.name, "kthreadd");
  EXPECT_EQ(k.sig_ign, ~0ull);
  EXPECT_EQ(k.cap_eff, 0x000001ffffffffffu);

  auto b = parseStatus(data("bash.status"));
  EXPECT_EQ(b.name, "bash");
  EXPECT_EQ(b.pid, 4277);
  EXPECT_EQ(b.rss_anon_kb, 272u);
}

// The lines as an old kernel (3.x) printed them: no Umask, NSpid, CapAmb,
// NoNewPrivs or Seccomp.
constexpr const char* kOldStatus =
    "Name:\tcat\n"
    "State:\tR (running)\n"
    "Tgid:\t5\n"
    "Pid:\t5\n"
    "PPid:\t1\n"
    "TracerPid:\t0\n"
    "Uid:\t1000\t1001\t1002\t1003\n"
    "Gid:\t100\t101\t102\t103\n"
    "FDSize:\t64\n"
    "Groups:\t4 24 27 \n"
    "Threads:\t1\n"
    "SigQ:\t0/100\n"
    "SigPnd:\t0000000000000000\n"
    "ShdPnd:\t0000000000000000\n"
    "SigBlk:\t0000000000000000\n"
    "SigIgn:\t0000000000000000\n"
    "SigCgt:\t0000000000000000\n"
    "CapInh:\t0000000000000000\n"
    "CapPrm:\t0000000000000000\n"
    "CapEff:\t0000000000000000\n"
    "CapBnd:\t0000001fffffffff\n";

TEST(ProcStatus, OldKernelOptionalLines) {
  auto st = parseStatus(kOldStatus);
  EXPECT_FALSE(st.umask.has_value());
  EXPECT_FALSE(st.no_new_privs.has_value());
  EXPECT_FALSE(st.seccomp.has_value());
  EXPECT_TRUE(st.ns_pid.empty());
  EXPECT_TRUE(st.ns_tgid.empty());
  EXPECT_EQ(st.cap_amb, 0u);
  EXPECT_EQ(st.uid, (std::array<uint32_t, 4>{1000, 1001, 1002, 1003}));
  EXPECT_EQ(st.gid, (std::array<uint32_t, 4>{100, 101, 102, 103}));
  EXPECT_EQ(st.groups, (std::vector<uint32_t>{4, 24, 27}));
  EXPECT_EQ(st.cap_bnd, 0x1fffffffffu);
}

TEST(ProcStatus, NestedNamespacesAndEscapedName) {
  std::string text = std::string(kOldStatus) +
                     "NStgid:\t4242\t7\t1\n"
                     "NSpid:\t4243\t8\t2\n"
                     "NoNewPrivs:\t1\n"
                     "Seccomp:\t2\n"
                     "Umask:\t0077\n";
  // The kernel escapes '\n' and '\\' in Name; blanks around the name are its own.
  text.replace(0, text.find('\n'), "Name:\t a\\nb\\\\c\\t ");
  auto st = parseStatus(text);
  EXPECT_EQ(st.name, " a\nb\\c\\t ");
  EXPECT_EQ(st.ns_tgid, (std::vector<int32_t>{4242, 7, 1}));
  EXPECT_EQ(st.ns_pid, (std::vector<int32_t>{4243, 8, 2}));
  EXPECT_EQ(st.no_new_privs, true);
  EXPECT_EQ(st.seccomp, 2);
  EXPECT_EQ(st.umask, 077u);
}

TEST(ProcStatus, Malformed) {
  EXPECT_EQ(errorOf([] { parseStatus(""); }), "status: missing 'Name:' line");
  std::string noPid = kOldStatus;
  noPid.erase(noPid.find("Pid:\t5\n"), 7);
  EXPECT_EQ(errorOf([&] { parseStatus(noPid); }), "status: missing 'Pid:' line");

  auto withLine = [](const std::string& line) { return std::string(kOldStatus) + line + "\n"; };
  EXPECT_EQ(errorOf([&] { parseStatus(withLine("no colon here")); }),
            "status: bad line 22: 'no colon here'");
  for (const char* line :
       {"SigBlk:\txyz", "SigBlk:\t", "SigBlk:\t10000000000000000", "Uid:\t1\t2\t3",
        "Uid:\t1\t2\t3\t4\t5", "Uid:\t1\t-2\t3\t4", "Groups:\t4 x", "Umask:\t0089",
        "NoNewPrivs:\t2", "SigQ:\t1", "SigQ:\t1/x", "State:\t", "Pid:\t5x", "NSpid:\t1 2 z"}) {
    EXPECT_EQ(errorOf([&] { parseStatus(withLine(line)); }),
              "status: bad line 22: '" + escapeTabs(line) + "'")
        << line;
  }
}

// ---------------------------------------------------------------- fdinfo

TEST(ProcFdinfo, RegularFileWithCloexec) {
  auto fi = parseFdinfo(data("capture_fd4.fdinfo"));
  EXPECT_EQ(fi.pos, 3);
  EXPECT_EQ(fi.flags, 02102002u);
  EXPECT_TRUE(fi.flags & O_CLOEXEC);
  EXPECT_TRUE(fi.flags & O_APPEND);
  EXPECT_EQ(fi.flags & O_ACCMODE, static_cast<uint32_t>(O_RDWR));
  EXPECT_EQ(fi.mnt_id, 27);
  EXPECT_EQ(fi.ino, 10952907u);
  EXPECT_TRUE(fi.fields.empty());
  EXPECT_TRUE(fi.records.empty());

  auto null = parseFdinfo(data("capture_fd0.fdinfo"));
  EXPECT_FALSE(null.flags & O_CLOEXEC);
  EXPECT_EQ(null.flags & O_ACCMODE, static_cast<uint32_t>(O_RDONLY));
  auto memfd = parseFdinfo(data("capture_fd5.fdinfo"));
  EXPECT_EQ(memfd.mnt_id, 0);
  auto pipe = parseFdinfo(data("capture_fd12.fdinfo"));
  EXPECT_TRUE(pipe.flags & O_NONBLOCK);
}

TEST(ProcFdinfo, Eventfd) {
  auto fi = parseFdinfo(data("capture_fd7.fdinfo"));
  EXPECT_TRUE(fi.flags & O_NONBLOCK);
  EXPECT_EQ(fi.fields.at("eventfd-count"), "7");
  EXPECT_EQ(fi.fields.at("eventfd-id"), "1");
  EXPECT_EQ(fi.fields.at("eventfd-semaphore"), "0");
}

TEST(ProcFdinfo, Timerfd) {
  auto fi = parseFdinfo(data("capture_fd8.fdinfo"));
  EXPECT_EQ(fi.fields.at("clockid"), "1");
  EXPECT_EQ(fi.fields.at("ticks"), "0");
  EXPECT_EQ(fi.fields.at("settime flags"), "00");
  EXPECT_EQ(fi.fields.at("it_value"), "(995, 13055016)");
  EXPECT_EQ(fi.fields.at("it_interval"), "(0, 500000000)");
}

TEST(ProcFdinfo, Signalfd) {
  auto fi = parseFdinfo(data("capture_fd6.fdinfo"));
  EXPECT_TRUE(fi.flags & O_CLOEXEC);
  EXPECT_EQ(fi.fields.at("sigmask"), "0000000000000801");
}

TEST(ProcFdinfo, EpollTargets) {
  auto fi = parseFdinfo(data("capture_fd11.fdinfo"));
  ASSERT_EQ(fi.records.size(), 1u);
  const auto& tfds = fi.records.at("tfd");
  ASSERT_EQ(tfds.size(), 2u);
  auto first = parseFdinfoRecord(tfds[0]);
  EXPECT_EQ(first.at("tfd"), "7");
  EXPECT_EQ(first.at("events"), "19");
  EXPECT_EQ(first.at("data"), "1234");
  EXPECT_EQ(first.at("pos"), "0");
  EXPECT_EQ(first.at("ino"), "40e");
  EXPECT_EQ(first.at("sdev"), "10");
  auto second = parseFdinfoRecord(tfds[1]);
  EXPECT_EQ(second.at("tfd"), "8");
  EXPECT_EQ(second.at("events"), "80000019");  // EPOLLET
  EXPECT_EQ(second.at("data"), "63");
}

TEST(ProcFdinfo, InotifyWatches) {
  auto fi = parseFdinfo(data("capture_fd9.fdinfo"));
  const auto& wds = fi.records.at("inotify wd");
  ASSERT_EQ(wds.size(), 2u);
  auto w = parseFdinfoRecord(wds[0]);
  EXPECT_EQ(w.at("wd"), "2");
  EXPECT_EQ(w.at("ino"), "a72094");
  EXPECT_EQ(w.at("sdev"), "fe00000");
  EXPECT_EQ(w.at("mask"), "2");  // IN_MODIFY
  EXPECT_EQ(w.at("fhandle-bytes"), "8");
  EXPECT_EQ(w.at("f_handle"), "9420a700b9474fab");
  EXPECT_FALSE(w.contains("inotify"));
  EXPECT_EQ(parseFdinfoRecord(wds[1]).at("mask"), "300");  // IN_CREATE | IN_DELETE
}

TEST(ProcFdinfo, FanotifyRepeatedAndUnknownLines) {
  auto fi = parseFdinfo(
      "pos:\t0\nflags:\t02\n"
      "fanotify flags:10 event-flags:0\n"
      "fanotify mnt_id:20 mflags:0 mask:3b ignored_mask:0\n"
      "fanotify ino:1 sdev:2 mflags:0 mask:1 ignored_mask:0 fhandle-bytes:8\n"
      "fanotify mnt_id:21 mflags:0 mask:3b ignored_mask:0\n"
      "Pid:\t12\nNSpid:\t12\t1\n"
      "repeat: 1\nrepeat: 2\nrepeat: 3\n"
      "  op=1, task_works=0\n");
  EXPECT_FALSE(fi.mnt_id.has_value());  // before 3.15
  EXPECT_FALSE(fi.ino.has_value());     // before 5.14
  EXPECT_EQ(fi.fields.at("fanotify flags"), "10 event-flags:0");
  EXPECT_EQ(fi.records.at("fanotify mnt_id").size(), 2u);
  EXPECT_EQ(parseFdinfoRecord(fi.records.at("fanotify mnt_id")[1]).at("mnt_id"), "21");
  EXPECT_EQ(fi.records.at("fanotify ino").size(), 1u);
  EXPECT_EQ(fi.fields.at("Pid"), "12");
  EXPECT_EQ(fi.fields.at("NSpid"), "12\t1");
  EXPECT_FALSE(fi.fields.contains("repeat"));
  EXPECT_EQ(fi.records.at("repeat"),
            (std::vector<std::string>{"repeat: 1", "repeat: 2", "repeat: 3"}));
  EXPECT_EQ(fi.records.at(""), std::vector<std::string>{"  op=1, task_works=0"});
}

TEST(ProcFdinfo, Malformed) {
  EXPECT_EQ(errorOf([] { parseFdinfo(""); }), "fdinfo: missing 'pos:' line");
  EXPECT_EQ(errorOf([] { parseFdinfo("pos:\t0\n"); }), "fdinfo: missing 'flags:' line");
  EXPECT_EQ(errorOf([] { parseFdinfo("pos:\t0\nflags:\t09\n"); }),
            "fdinfo: bad line 2: 'flags:\\x0909'");
  EXPECT_EQ(errorOf([] { parseFdinfo("pos:\tx\nflags:\t0\n"); }),
            "fdinfo: bad line 1: 'pos:\\x09x'");
  EXPECT_EQ(errorOf([] { parseFdinfo("pos:\t0\nflags:\t0\nmnt_id:\t\n"); }),
            "fdinfo: bad line 3: 'mnt_id:\\x09'");
  EXPECT_EQ(errorOf([] { parseFdinfo("pos:\t0\nflags:\t0\nino:\t-1\n"); }),
            "fdinfo: bad line 3: 'ino:\\x09-1'");
}

TEST(ProcFdinfo, RecordEdgeCases) {
  EXPECT_TRUE(parseFdinfoRecord("").empty());
  auto r = parseFdinfoRecord("a: b:c d: e");
  EXPECT_EQ(r.at("a"), "");  // the next word is a key, not a's value
  EXPECT_EQ(r.at("b"), "c");
  EXPECT_EQ(r.at("d"), "e");
  EXPECT_EQ(parseFdinfoRecord("last:").at("last"), "");
}

// ---------------------------------------------------------------- timers

TEST(ProcTimers, CapturedTimersOfEachKind) {
  auto timers = parseTimers(data("capture.timers"));
  ASSERT_EQ(timers.size(), 4u);
  // Newest first, as the kernel lists them.
  const auto& deflt = timers[0];  // timer_create(CLOCK_PROCESS_CPUTIME_ID, NULL)
  EXPECT_EQ(deflt.id, 3);
  EXPECT_EQ(deflt.signo, SIGALRM);
  EXPECT_EQ(deflt.notify, SIGEV_SIGNAL);
  EXPECT_EQ(deflt.notify_pid, 3632);
  EXPECT_EQ(deflt.clock_id, -6);  // MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED)

  const auto& none = timers[1];
  EXPECT_EQ(none.id, 2);
  EXPECT_EQ(none.notify, SIGEV_NONE);
  EXPECT_EQ(none.clock_id, CLOCK_BOOTTIME);

  const auto& tid = timers[2];
  EXPECT_EQ(tid.id, 1);
  EXPECT_EQ(tid.signo, SIGRTMIN + 2);
  EXPECT_EQ(tid.sigval, 42u);
  EXPECT_EQ(tid.notify, SIGEV_THREAD_ID);
  EXPECT_EQ(tid.notify_pid, 3632);
  EXPECT_EQ(tid.clock_id, CLOCK_REALTIME);

  const auto& sig = timers[3];
  EXPECT_EQ(sig.id, 0);
  EXPECT_EQ(sig.signo, SIGUSR1);
  EXPECT_EQ(sig.sigval, 0xdeadbeefu);
  EXPECT_EQ(sig.notify, SIGEV_SIGNAL);
  EXPECT_EQ(sig.clock_id, CLOCK_MONOTONIC);
}

TEST(ProcTimers, EmptyAndThreadAndUnknownKeys) {
  EXPECT_TRUE(parseTimers("").empty());
  auto t = parseTimers(
      "ID: 7\nsignal: 34/ffff888012345678\nnotify: thread/pid.9\nClockID: 2\nFuture: x\n");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].notify, SIGEV_THREAD);
  EXPECT_EQ(t[0].sigval, 0xffff888012345678u);
  EXPECT_EQ(t[0].notify_pid, 9);
  EXPECT_EQ(t[0].clock_id, CLOCK_PROCESS_CPUTIME_ID);
}

TEST(ProcTimers, Malformed) {
  EXPECT_EQ(errorOf([] { parseTimers("signal: 14/0\n"); }), "timers: bad line 1: 'signal: 14/0'");
  EXPECT_EQ(errorOf([] { parseTimers("ID: 1\nsignal: 14/0\nnotify: signal/pid.1\n"); }),
            "timers: timer ID 1 has no 'ClockID:' line");
  EXPECT_EQ(errorOf([] { parseTimers("ID: 1\nID: 2\n"); }),
            "timers: timer ID 1 has no 'signal:' line");
  const std::string head = "ID: 1\n";
  for (const char* line : {"ID: x", "signal: 14", "signal: x/0", "signal: 14/zz", "notify: signal",
                           "notify: signal/pid", "notify: bogus/pid.1", "notify: signal/tgid.1",
                           "notify: signal/pid.x", "notify: .1/pid", "ClockID: one", "garbage"}) {
    EXPECT_EQ(errorOf([&] { parseTimers(head + line + "\n"); }),
              std::string("timers: bad line 2: '") + line + "'")
        << line;
  }
}

// ---------------------------------------------------------------- auxv, cmdline

TEST(ProcAuxv, Captured) {
  std::string bytes = data("capture.auxv");
  auto auxv = parseAuxv(bytes);
  ASSERT_EQ(auxv.size(), bytes.size() / sizeof(uint64_t));
  ASSERT_EQ(auxv.size(), 46u);
  EXPECT_EQ(auxv[auxv.size() - 2], static_cast<uint64_t>(AT_NULL));
  EXPECT_EQ(auxv[0], static_cast<uint64_t>(AT_SYSINFO_EHDR));
  EXPECT_EQ(auxv[1], 0x7f54cf107000u);  // [vdso] in capture.maps
  bool pagesz = false;
  for (size_t i = 0; i + 1 < auxv.size(); i += 2) {
    if (auxv[i] == AT_PAGESZ) pagesz = auxv[i + 1] == 4096;
  }
  EXPECT_TRUE(pagesz);
}

TEST(ProcAuxv, StopsAtNullAndRejectsTruncation) {
  std::string bytes = data("capture.auxv");
  EXPECT_EQ(parseAuxv(bytes + "trailing bytes").size(), 46u);
  EXPECT_EQ(parseAuxv(std::string(16, '\0')), (std::vector<uint64_t>{0, 0}));
  EXPECT_EQ(errorOf([&] { parseAuxv(bytes.substr(0, bytes.size() - 16)); }),
            "auxv: no AT_NULL entry in 352 bytes");
  EXPECT_EQ(errorOf([&] { parseAuxv(bytes.substr(0, bytes.size() - 1)); }),
            "auxv: no AT_NULL entry in 367 bytes");
  EXPECT_EQ(errorOf([] { parseAuxv(""); }), "auxv: no AT_NULL entry in 0 bytes");
}

TEST(ProcNulSeparated, CmdlineAndEnviron) {
  EXPECT_EQ(parseNulSeparated(data("capture.cmdline")),
            (std::vector<std::string>{"./capture", "arg one", "two", ""}));
  EXPECT_EQ(parseNulSeparated(data("capture.environ")),
            (std::vector<std::string>{"HOME=/root", "TERM=xterm", "GREETING=hello world"}));
  EXPECT_TRUE(parseNulSeparated("").empty());
  EXPECT_EQ(parseNulSeparated(std::string_view("\0", 1)), std::vector<std::string>{""});
  EXPECT_EQ(parseNulSeparated("rewritten title"), std::vector<std::string>{"rewritten title"});
  EXPECT_EQ(parseNulSeparated(std::string_view("a\0b", 3)), (std::vector<std::string>{"a", "b"}));
}

// ---------------------------------------------------------------- robustness

// Every prefix and many corrupted copies of every captured file either parse
// or throw ckpt::Error: nothing else, and no crash.
TEST(ProcParsers, CorruptedCapturesOnlyThrowError) {
  struct Case {
    const char* file;
    void (*parse)(std::string_view);
  };
  const Case cases[] = {
      {"capture.maps", [](std::string_view t) { parseMaps(t); }},
      {"bash.maps", [](std::string_view t) { parseMaps(t); }},
      {"capture.smaps", [](std::string_view t) { parseSmapsVmFlags(t); }},
      {"capture.smaps", [](std::string_view t) { parseSmapsAnonHugePages(t); }},
      {"capture.stat", [](std::string_view t) { parseStat(t); }},
      {"zombie.stat", [](std::string_view t) { parseStat(t); }},
      {"capture.status", [](std::string_view t) { parseStatus(t); }},
      {"zombie.status", [](std::string_view t) { parseStatus(t); }},
      {"capture_fd4.fdinfo", [](std::string_view t) { parseFdinfo(t); }},
      {"capture_fd8.fdinfo", [](std::string_view t) { parseFdinfo(t); }},
      {"capture_fd9.fdinfo",
       [](std::string_view t) {
         for (const auto& [k, lines] : parseFdinfo(t).records) {
           for (const auto& l : lines) parseFdinfoRecord(l);
         }
       }},
      {"capture_fd11.fdinfo", [](std::string_view t) { parseFdinfo(t); }},
      {"capture.timers", [](std::string_view t) { parseTimers(t); }},
      {"capture.auxv", [](std::string_view t) { parseAuxv(t); }},
      {"capture.cmdline", [](std::string_view t) { parseNulSeparated(t); }},
  };
  auto tryParse = [](const Case& c, std::string_view text) {
    try {
      c.parse(text);
    } catch (const ckpt::Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.file << ": " << e.what();
    }
  };
  uint64_t rng = 0x9e3779b97f4a7c15u;  // fixed: the same inputs every run
  auto next = [&]() {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  const char interesting[] = {'\0', '\n', ' ', '\t', ':', '-', '(', ')', '/', '.', 'x', '9', 'f'};
  for (const auto& c : cases) {
    std::string text = data(c.file);
    size_t step = std::max<size_t>(1, text.size() / 1500);
    for (size_t n = 0; n <= text.size(); n += step)
      tryParse(c, std::string_view(text).substr(0, n));
    for (int i = 0; i < 300; ++i) {
      std::string copy = text;
      for (int k = 0, edits = 1 + static_cast<int>(next() % 4); k < edits && !copy.empty(); ++k) {
        size_t at = next() % copy.size();
        switch (next() % 3) {
          case 0:
            copy[at] = interesting[next() % sizeof interesting];
            break;
          case 1:
            copy.erase(at, 1 + next() % 8);
            break;
          default:
            copy.insert(at, 1, interesting[next() % sizeof interesting]);
        }
      }
      tryParse(c, copy);
    }
  }
}

// ---------------------------------------------------------------- this process

TEST(ProcSelf, MapsFindStackAndVdso) {
  auto maps = parseMaps(readProcFile("/proc/self/maps"));
  ASSERT_FALSE(maps.empty());
  volatile int local = 0;
  auto here = reinterpret_cast<uintptr_t>(&local);
  const auto* stack = findPath(maps, "[stack]");
  ASSERT_NE(stack, nullptr);
  EXPECT_GE(here, stack->start);  // gtest runs tests on the main thread
  EXPECT_LT(here, stack->end);
  EXPECT_EQ(stack->prot & (PROT_READ | PROT_WRITE), PROT_READ | PROT_WRITE);

  const auto* vdso = findPath(maps, "[vdso]");
  ASSERT_NE(vdso, nullptr);
  EXPECT_EQ(vdso->start, getauxval(AT_SYSINFO_EHDR));
  EXPECT_TRUE(vdso->prot & PROT_EXEC);

  for (size_t i = 1; i < maps.size(); ++i) EXPECT_LE(maps[i - 1].end, maps[i].start);

  auto flags = parseSmapsVmFlags(readProcFile("/proc/self/smaps"));
  ASSERT_TRUE(flags.contains(stack->start));
  EXPECT_TRUE(hasFlag(flags.at(stack->start), "gd"));
}

TEST(ProcSelf, StatAndStatus) {
  auto st = parseStat(readProcFile("/proc/self/stat"));
  EXPECT_EQ(st.pid, getpid());
  EXPECT_EQ(st.ppid, getppid());
  EXPECT_EQ(st.pgrp, getpgrp());
  EXPECT_EQ(st.session, getsid(0));
  EXPECT_EQ(st.state, 'R');
  EXPECT_GE(st.num_threads, 1);
  auto maps = parseMaps(readProcFile("/proc/self/maps"));
  const auto* stack = findPath(maps, "[stack]");
  ASSERT_NE(stack, nullptr);
  EXPECT_GE(st.start_stack, stack->start);
  EXPECT_LT(st.start_stack, stack->end);
  EXPECT_LT(st.arg_start, st.arg_end);

  auto status = parseStatus(readProcFile("/proc/self/status"));
  EXPECT_EQ(status.name, st.comm);
  EXPECT_EQ(status.pid, getpid());
  EXPECT_EQ(status.tgid, getpid());
  EXPECT_EQ(status.ppid, getppid());
  EXPECT_EQ(status.uid[0], getuid());
  EXPECT_EQ(status.uid[1], geteuid());
  EXPECT_EQ(status.gid[0], getgid());
  EXPECT_EQ(status.threads, st.num_threads);
  ASSERT_TRUE(status.umask.has_value());
  mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(*status.umask, mask);
  ASSERT_FALSE(status.ns_pid.empty());
  EXPECT_EQ(status.ns_pid.back(), getpid());

  auto cmdline = parseNulSeparated(readProcFile("/proc/self/cmdline"));
  ASSERT_FALSE(cmdline.empty());
  EXPECT_EQ(cmdline[0], program_invocation_name);  // argv[0]
}

TEST(ProcSelf, AuxvFdinfoTimers) {
  auto auxv = parseAuxv(readProcFile("/proc/self/auxv"));
  int found = 0;
  for (size_t i = 0; i + 1 < auxv.size(); i += 2) {
    if (auxv[i] == AT_SYSINFO_EHDR || auxv[i] == AT_PAGESZ || auxv[i] == AT_ENTRY) {
      EXPECT_EQ(auxv[i + 1], getauxval(auxv[i])) << auxv[i];
      ++found;
    }
  }
  EXPECT_EQ(found, 3);

  ckpt::UniqueFd fd(memfd_create("ckpt-test", MFD_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(write(fd.get(), "0123456789", 10), 10);
  ASSERT_EQ(lseek(fd.get(), 4, SEEK_SET), 4);
  auto fi = parseFdinfo(readProcFile("/proc/self/fdinfo/" + std::to_string(fd.get())));
  struct stat sb {};
  ASSERT_EQ(fstat(fd.get(), &sb), 0);
  EXPECT_EQ(fi.pos, 4);
  EXPECT_TRUE(fi.flags & O_CLOEXEC);
  EXPECT_EQ(fi.flags & O_ACCMODE, static_cast<uint32_t>(O_RDWR));
  EXPECT_EQ(fi.ino, sb.st_ino);

  struct sigevent sev {};
  sev.sigev_notify = SIGEV_NONE;
  timer_t timer;
  ASSERT_EQ(timer_create(CLOCK_MONOTONIC, &sev, &timer), 0);
  auto timers = parseTimers(readProcFile("/proc/self/timers"));
  timer_delete(timer);
  bool seen = false;
  for (const auto& t : timers) {
    if (t.notify == SIGEV_NONE && t.clock_id == CLOCK_MONOTONIC && t.notify_pid == getpid()) {
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
}

// ---------------------------------------------------------------- readers

TEST(ProcFiles, ReadsLargeFilesWhole) {
  std::string smaps = readProcFile("/proc/self/smaps");
  EXPECT_GT(smaps.size(), 8192u);  // more than one read
  EXPECT_EQ(smaps.back(), '\n');
  EXPECT_EQ(parseSmapsVmFlags(smaps).size(), parseMaps(readProcFile("/proc/self/maps")).size());
}

TEST(ProcFiles, ErrorsNameThePath) {
  try {
    readProcFile("/proc/self/no-such-file");
    FAIL() << "no error";
  } catch (const ckpt::SysError& e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_STREQ(e.what(), "open /proc/self/no-such-file: No such file or directory");
  }
  try {
    readLink("/proc/self/no-such-link");
    FAIL() << "no error";
  } catch (const ckpt::SysError& e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_STREQ(e.what(), "readlink /proc/self/no-such-link: No such file or directory");
  }
  EXPECT_THROW(readProcFile("/proc/self"), ckpt::SysError);  // a directory: EISDIR on read
}

TEST(ProcFiles, ReadLinkOfAnyLength) {
  std::string exe = readLink("/proc/self/exe");
  EXPECT_EQ(exe.front(), '/');
  struct stat viaLink {
  }, viaPath{};
  ASSERT_EQ(stat("/proc/self/exe", &viaLink), 0);
  ASSERT_EQ(stat(exe.c_str(), &viaPath), 0);
  EXPECT_EQ(viaLink.st_ino, viaPath.st_ino);
  EXPECT_EQ(viaLink.st_dev, viaPath.st_dev);

  char dir[] = "/tmp/ckpt-proc-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string link = std::string(dir) + "/link";
  std::string target = "/" + std::string(3000, 'a');  // longer than the first buffer
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  std::string got = readLink(link);
  unlink(link.c_str());
  rmdir(dir);
  EXPECT_EQ(got, target);
}

TEST(ProcLimits, ParsesCapturedText) {
  std::ifstream in(std::string(CKPT_TEST_DATA_DIR) + "/proc/limits.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  auto limits = ckpt::proc::parseLimits(ss.str());
  ASSERT_EQ(limits.size(), 16u);
  EXPECT_EQ(limits[RLIMIT_CPU].soft, ~0ull);
  EXPECT_EQ(limits[RLIMIT_STACK].soft, 8388608u);
  EXPECT_EQ(limits[RLIMIT_STACK].hard, ~0ull);
}

TEST(ProcLimits, MatchesGetrlimitForSelf) {
  auto limits = ckpt::proc::parseLimits(ckpt::proc::readProcFile("/proc/self/limits"));
  ASSERT_EQ(limits.size(), size_t(RLIM_NLIMITS));
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    rlimit lim{};
    getrlimit(__rlimit_resource(r), &lim);
    EXPECT_EQ(limits[size_t(r)].soft, uint64_t(lim.rlim_cur)) << "resource " << r;
    EXPECT_EQ(limits[size_t(r)].hard, uint64_t(lim.rlim_max)) << "resource " << r;
  }
}

TEST(ProcLimits, RejectsGarbage) {
  EXPECT_THROW(
      ckpt::proc::parseLimits(
          "header\nMax cpu time              abc                  unlimited            seconds\n"),
      ckpt::Error);
  EXPECT_THROW(ckpt::proc::parseLimits(""), ckpt::Error);
}

// /proc/sysvipc/{sem,msg} as this kernel prints them.
TEST(Sysvipc, ParsesColumnsByHeader) {
  const char* sem =
      "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"
      "1802567829          0   640          5     0     0     0     0 1764030000 1764030000\n"
      "         0          1   600          2  1000  1000     0     0          0 1764030001\n";
  auto rows = ckpt::proc::parseSysvipc(sem);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(ckpt::proc::sysvipcField(rows[0], "key"), 1802567829);
  EXPECT_EQ(ckpt::proc::sysvipcField(rows[0], "perms"), 0640);  // octal
  EXPECT_EQ(ckpt::proc::sysvipcField(rows[0], "nsems"), 5);
  EXPECT_EQ(ckpt::proc::sysvipcField(rows[1], "semid"), 1);
  EXPECT_EQ(ckpt::proc::sysvipcField(rows[1], "uid"), 1000);
  const char* msg =
      "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      "
      "stime      rtime      ctime\n"
      "-559038737      32769   620        4013          4  4243  4242     0     0     0     0 "
      "1764030000 1764030000 1764030000\n";
  rows = ckpt::proc::parseSysvipc(msg);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(ckpt::proc::sysvipcField(rows[0], "key"), -559038737);
  EXPECT_EQ(ckpt::proc::sysvipcField(rows[0], "lspid"), 4243);
  EXPECT_EQ(ckpt::proc::sysvipcField(rows[0], "qnum"), 4);
  // A header alone: no objects.
  EXPECT_TRUE(ckpt::proc::parseSysvipc("       key      semid perms\n").empty());
}

TEST(Sysvipc, ReadsThisKernelsTables) {
  for (const char* f : {"/proc/sysvipc/sem", "/proc/sysvipc/msg", "/proc/sysvipc/shm"})
    EXPECT_NO_THROW(ckpt::proc::parseSysvipc(ckpt::proc::readProcFile(f))) << f;
}

TEST(Sysvipc, RejectsGarbage) {
  EXPECT_THROW(ckpt::proc::parseSysvipc(""), ckpt::Error);
  EXPECT_THROW(ckpt::proc::parseSysvipc("key semid perms\n1 2\n"), ckpt::Error);
  auto rows = ckpt::proc::parseSysvipc("key semid perms\n1 2 999\n");
  EXPECT_THROW(ckpt::proc::sysvipcField(rows[0], "perms"), ckpt::Error);  // 9 is not octal
  EXPECT_THROW(ckpt::proc::sysvipcField(rows[0], "nsems"), ckpt::Error);  // no such column
}

// Lock lines of /proc/locks and of fdinfo's "lock:" (fs/locks.c lock_get_status).
TEST(LockLine, ParsesEveryKind) {
  auto l = ckpt::proc::parseLockLine("1: POSIX  ADVISORY  WRITE 4242 08:01:1234 0 99");
  EXPECT_EQ(l.cls, "POSIX");
  EXPECT_EQ(l.mode, "ADVISORY");
  EXPECT_EQ(l.type, "WRITE");
  EXPECT_FALSE(l.blocked);
  EXPECT_EQ(l.pid, 4242);
  EXPECT_EQ(l.dev, makedev(8, 1));
  EXPECT_EQ(l.ino, 1234u);
  EXPECT_EQ(l.start, 0);
  ASSERT_TRUE(l.end.has_value());
  EXPECT_EQ(*l.end, 99);
  l = ckpt::proc::parseLockLine("2: FLOCK  ADVISORY  READ 17 fd:1a:88121 0 EOF");
  EXPECT_EQ(l.cls, "FLOCK");
  EXPECT_EQ(l.type, "READ");
  EXPECT_EQ(l.dev, makedev(0xfd, 0x1a));
  EXPECT_FALSE(l.end.has_value());
  l = ckpt::proc::parseLockLine("3: OFDLCK ADVISORY  WRITE -1 00:2d:77 10 19");
  EXPECT_EQ(l.cls, "OFDLCK");
  EXPECT_EQ(l.pid, -1);
  l = ckpt::proc::parseLockLine("4: -> POSIX  ADVISORY  WRITE 4243 08:01:1234 0 99");
  EXPECT_TRUE(l.blocked);
  l = ckpt::proc::parseLockLine("5: LEASE  ACTIVE    READ 4242 08:01:99 0 EOF");
  EXPECT_EQ(l.cls, "LEASE");
  EXPECT_EQ(l.mode, "ACTIVE");
}

TEST(LockLine, ReadsLocksOfThisProcess) {
  char path[] = "/tmp/ckpt-lockline-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 5;
  fl.l_len = 10;
  ASSERT_EQ(fcntl(fd, F_SETLK, &fl), 0);
  auto info =
      ckpt::proc::parseFdinfo(ckpt::proc::readProcFile("/proc/self/fdinfo/" + std::to_string(fd)));
  ASSERT_TRUE(info.fields.count("lock")) << "no lock line in fdinfo";
  auto l = ckpt::proc::parseLockLine(info.fields["lock"]);
  EXPECT_EQ(l.cls, "POSIX");
  EXPECT_EQ(l.pid, getpid());
  EXPECT_EQ(l.start, 5);
  EXPECT_EQ(l.end.value_or(-1), 14);
  close(fd);
}

TEST(LockLine, RejectsGarbage) {
  EXPECT_THROW(ckpt::proc::parseLockLine(""), ckpt::Error);
  EXPECT_THROW(ckpt::proc::parseLockLine("1: POSIX ADVISORY WRITE x 08:01:1 0 EOF"), ckpt::Error);
  EXPECT_THROW(ckpt::proc::parseLockLine("1: POSIX ADVISORY WRITE 1 0801:1 0 EOF"), ckpt::Error);
  EXPECT_THROW(ckpt::proc::parseLockLine("1: POSIX ADVISORY WRITE 1 08:01:1 0 ten"), ckpt::Error);
}
