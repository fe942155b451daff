// Fault injection for tests (in the spirit of CRIU's CRIU_FAULT): with
// CKPT_FAULT=<point> ckpt fails with an Error naming the point when it
// reaches it; with CKPT_FAULT=<point>:crash it SIGKILLs itself there, with
// <point>:stop it stops itself (SIGSTOP) and goes on when continued. Each
// point is one line at its call site: `fault::point("dump.freeze")`. The
// list below is every point there is; the tests run through all of it.
#pragma once

#include <array>
#include <string_view>

namespace ckpt::fault {

struct Point {
  std::string_view name;
  std::string_view where;  // what has happened when the point is reached
};

inline constexpr std::array kPoints{
    // Dump, in order.
    Point{"dump.hooks-pre-dump", "programs that take part were told pre-dump; nothing frozen"},
    Point{"dump.precopy-track",
          "every process has a write tracker over its private memory; the tree runs"},
    Point{"dump.precopy", "the first pre-copy round is written; the tree runs"},
    Point{"dump.freeze", "every thread of the tree is seized and stopped"},
    Point{"dump.process-state", "inside the injected calls of the first process"},
    Point{"dump.fds", "the first process's state and fds are saved"},
    Point{"dump.finishers", "the per-kind fd finishers ran"},
    Point{"dump.ipc", "file locks and SysV objects are saved"},
    Point{"dump.precopy-small",
          "a process too small for pre-copy is copied frozen; the tree is frozen"},
    Point{"dump.precopy-frozen", "the pages written since pre-copy are copied; the tree is frozen"},
    Point{"dump.snapshot", "copy-on-write snapshots of memory are taken; the tree is frozen"},
    Point{"dump.memory", "in the middle of writing the first process's pages"},
    Point{"dump.commit", "everything is written; the manifest is not"},
    Point{"dump.rename", "the manifest is written and synced; the image is still .partial"},
    Point{"dump.hooks-resumed", "the image is complete; programs are not yet told resumed"},
    // Restore, in order.
    Point{"restore.verify", "the image is read and verified; nothing exists yet"},
    Point{"restore.tree", "every process of the tree exists as a stub"},
    Point{"restore.layers", "SysV objects made and the layers told the tree is built"},
    Point{"restore.memory", "the first process's memory is restored"},
    Point{"restore.fds", "the first process's fds are restored"},
    Point{"restore.state", "the first process's state is restored"},
    Point{"restore.threads", "the first process's threads exist"},
    Point{"restore.detach", "everything is restored; nothing is let go yet"},
    // The page server of restore --lazy (tests/integration/test_lazy.cpp).
    Point{"lazy.copy", "the tree runs; the page server copied its first background run"},
};

// Points after which a dump's image is complete: a fault there leaves it.
inline constexpr std::string_view kFirstPointAfterCommit = "dump.hooks-resumed";

// Does nothing unless CKPT_FAULT names this point (which must be in kPoints).
void point(std::string_view name);

}  // namespace ckpt::fault
