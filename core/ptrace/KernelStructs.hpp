// The x86-64 kernel's own layouts of the structures that injected system
// calls read and write in a tracee (not libc's, which differ: libc's
// sigset_t is 128 bytes, the kernel's 8).
#pragma once

#include <cstdint>

namespace ckpt::kernel {

struct Sigaction {  // rt_sigaction
  uint64_t handler, flags, restorer, mask;
};

struct Stack {  // sigaltstack
  uint64_t sp;
  int32_t flags;
  int32_t pad;
  uint64_t size;
};

struct Itimerval {  // getitimer / setitimer
  int64_t isec, iusec, vsec, vusec;
};

struct Itimerspec {  // timer_gettime / timer_settime
  int64_t isec, insec, vsec, vnsec;
};

struct Sigevent {  // timer_create
  uint64_t value;
  int32_t signo;
  int32_t notify;
  int32_t tid;
  int32_t pad[11];
};

static_assert(sizeof(Sigaction) == 32 && sizeof(Stack) == 24 && sizeof(Itimerval) == 32 &&
              sizeof(Itimerspec) == 32 && sizeof(Sigevent) == 64);

}  // namespace ckpt::kernel
