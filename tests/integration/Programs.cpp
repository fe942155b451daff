// The programs the integration tests dump and restore.
#include "Programs.hpp"

#include <unistd.h>

#include <stdexcept>

namespace ckpt::test {
namespace {

// A python3 busy loop holding state (a list, a dict, a bytes object), in the
// protocol: ready on CKPT_READY_FD, SIGUSR1 ends the loop, then it checks.
constexpr const char* kPythonScript = R"PY(
import hashlib, os, signal, sys, time
woken = False
def on_usr1(signum, frame):
    global woken
    woken = True
signal.signal(signal.SIGUSR1, on_usr1)
squares = [i * i % 1000003 for i in range(200000)]
table = {str(i): i * 3 for i in range(50000)}
blob = bytes(range(256)) * 4096
digest = hashlib.sha256(blob).hexdigest()
t0 = time.monotonic()
fd = int(os.environ["CKPT_READY_FD"])
os.write(fd, b"ready\n")
os.close(fd)
spins = 0
while not woken:
    spins += 1
fails = []
if squares != [i * i % 1000003 for i in range(200000)]: fails.append("list changed")
if table != {str(i): i * 3 for i in range(50000)}: fails.append("dict changed")
if blob != bytes(range(256)) * 4096: fails.append("bytes changed")
if hashlib.sha256(blob).hexdigest() != digest: fails.append("digest changed")
if time.monotonic() < t0: fails.append("monotonic clock went back")
more = sum(range(1000000))
if more != 499999500000: fails.append("arithmetic broken")
for f in fails: print("FAIL [python]:", f, file=sys.stderr)
print("PASS" if not fails else "FAILED", file=sys.stderr)
sys.exit(1 if fails else 0)
)PY";

}  // namespace

std::string systemProgram(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/bin/", "/usr/local/bin/"}) {
    std::string path = dir + name;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "/usr/bin/" + name;
}

std::vector<ProgramCase> protocolPrograms() {
  std::vector<ProgramCase> out;
  for (const char* name :
       {"mem_anon", "mem_file", "mem_big",      "mem_live",     "threads", "signals",  "timers",
        "tree",     "fds",      "misc",         "blocked_read", "shm",     "sysv_sem", "sysv_msg",
        "locks",    "creds",    "unix_sockets", "inet_sockets", "pty",     "sturdy",   "many"})
    out.push_back({name, {programPath(name)}});
  for (auto& p : out)
    if (p.name == "misc") p.argv.insert(p.argv.end(), {"first", "second arg", ""});
  out.push_back({"python3", {systemProgram("python3"), "-c", kPythonScript}});
  return out;
}

ProgramCase programCase(const std::string& name) {
  for (auto& p : protocolPrograms())
    if (p.name == name) return p;
  throw std::invalid_argument("no test program " + name);
}

}  // namespace ckpt::test
