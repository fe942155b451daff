// Credentials of a process that dropped root: real/effective/saved uids and
// gids differ, supplementary groups, and one capability kept in the
// permitted and effective sets. After SIGUSR1 all must be as they were.
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "zdtm.hpp"

namespace {

struct Caps {
  uint64_t eff = 0, prm = 0, inh = 0;
};

Caps getCaps() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) zdtm::die("capget");
  return {data[0].effective | (uint64_t(data[1].effective) << 32),
          data[0].permitted | (uint64_t(data[1].permitted) << 32),
          data[0].inheritable | (uint64_t(data[1].inheritable) << 32)};
}

}  // namespace

int main() {
  if (geteuid() != 0) zdtm::die("must start as root");
  const gid_t groups[] = {44, 100, 1234};
  if (setgroups(3, groups) != 0) zdtm::die("setgroups");
  if (setresgid(1001, 1002, 1003) != 0) zdtm::die("setresgid");
  if (prctl(PR_SET_KEEPCAPS, 1) != 0) zdtm::die("keepcaps");
  if (setresuid(1001, 1002, 1003) != 0) zdtm::die("setresuid");
  const uint64_t kept = 1ull << CAP_NET_BIND_SERVICE;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  data[0].effective = data[0].permitted = uint32_t(kept);
  if (syscall(SYS_capset, &hdr, data) != 0) zdtm::die("capset");
  prctl(PR_SET_KEEPCAPS, 0);

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  uid_t r, e, s;
  getresuid(&r, &e, &s);
  CHECK(r == 1001 && e == 1002 && s == 1003, "uids %u/%u/%u, were 1001/1002/1003", r, e, s);
  gid_t gr, ge, gs;
  getresgid(&gr, &ge, &gs);
  CHECK(gr == 1001 && ge == 1002 && gs == 1003, "gids %u/%u/%u, were 1001/1002/1003", gr, ge, gs);
  gid_t now[16];
  int n = getgroups(16, now);
  CHECK(n == 3 && now[0] == 44 && now[1] == 100 && now[2] == 1234,
        "%d supplementary groups, were 3 (44 100 1234)", n);
  Caps c = getCaps();
  CHECK(c.eff == kept && c.prm == kept && c.inh == 0, "caps eff %lx prm %lx inh %lx, were %lx",
        (unsigned long)c.eff, (unsigned long)c.prm, (unsigned long)c.inh, (unsigned long)kept);
  CHECK(prctl(PR_GET_KEEPCAPS) == 0, "keepcaps is set");
  // The fs ids follow the effective ones.
  CHECK(setfsuid(uid_t(-1)) == 1002, "fsuid %d", setfsuid(uid_t(-1)));
  return zdtm::finish();
}
