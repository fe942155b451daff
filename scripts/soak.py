#!/usr/bin/env python3
"""Soak test of ckpt (`make soak`, not part of `make check`).

A tmux server (private socket) with 10 windows, each a bash loop printing a
numbered sequence, is dumped leaving it running every SOAK_INTERVAL seconds
(default 2) for SOAK_MINUTES (default 10). It then checks:
  - ckpt does not leak: its max RSS per dump stays flat (it may follow the
    tree's own memory, which grows with tmux's scrollback);
  - the program does not leak: the tree's fd count never changes and its
    RSS is reported at each dump;
  - no output was lost or duplicated: every pane's history is 0, 1, 2, ...
    with no gap or repeat, across all the dumps;
  - every image is restorable: every SOAK_SAMPLE-th image (default 10) and
    the last are restored one at a time once the original is gone; each
    restored server must show its 10 panes counting on from where they were,
    contiguous; then it is killed before the next one.
Prints a summary table; exits 1 when any check failed. Run as root, from the
repository root (CKPT=build/bin/ckpt by default).
"""
import ctypes
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CKPT = os.path.abspath(os.environ.get("CKPT", "build/bin/ckpt"))
MINUTES = float(os.environ.get("SOAK_MINUTES", "10"))
INTERVAL = float(os.environ.get("SOAK_INTERVAL", "2"))
SAMPLE = int(os.environ.get("SOAK_SAMPLE", "10"))
WINDOWS = 10
PR_SET_CHILD_SUBREAPER = 36

failures = []


def fail(msg):
    failures.append(msg)
    print(f"soak: FAIL: {msg}", file=sys.stderr, flush=True)


def tree_pids(root):
    pids, todo = [], [root]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def reap():
    """We are a child subreaper: killed and restored trees end up here."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wait_until(pred, timeout=30.0):
    """Polls what no event announces (a pane's text, a pid being free)."""
    end = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < end:
        reap()
        if pred():
            return True
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    return pred()


class Tmux:
    def __init__(self, work):
        self.sock = os.path.join(work, "tmux.sock")
        self.conf = os.path.join(work, "tmux.conf")
        with open(self.conf, "w") as f:
            f.write("set -g history-limit 1000000\nset -g remain-on-exit off\n")

    def __call__(self, *args, check=True):
        r = subprocess.run(["tmux", "-S", self.sock, "-f", self.conf, *args],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def panes(self):
        return self("list-panes", "-a", "-F", "#{pane_id}", check=False).split()

    def numbers(self, pane):
        text = self("capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", pane, check=False)
        return [line for line in text.split("\n") if line.strip() != ""]


def contiguous(lines):
    """'' when lines are 0, 1, 2, ... n; else what is wrong."""
    for i, line in enumerate(lines):
        if not re.fullmatch(r"\d+", line.strip()):
            return f"line {i} is {line!r}"
        if int(line) != i:
            return f"line {i} holds {line} (a number {'lost' if int(line) > i else 'repeated'})"
    return ""


def last_number(tmux, pane):
    lines = tmux.numbers(pane)
    try:
        return int(lines[-1]) if lines else -1
    except ValueError:
        return -1


def run_ckpt(args):
    """Runs ckpt; returns (exit status, stdout, stderr, its max RSS in KiB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([CKPT, *args], stdout=out, stderr=err)
        # wait4, not Popen.wait: the child's own rusage comes with it.
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read().decode(), err.read().decode(), usage.ru_maxrss


def kill_tree(root):
    pids = tree_pids(root)
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if not wait_until(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids)):
        fail(f"pids {pids} still taken after SIGKILL")


def main():
    if os.geteuid() != 0:
        sys.exit("soak: run as root (restore keeps the pids)")
    if not os.access(CKPT, os.X_OK):
        sys.exit(f"soak: no ckpt at {CKPT} (make first, or set CKPT)")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    work = tempfile.mkdtemp(prefix="ckpt-soak.", dir=os.environ.get("TMPDIR", "/var/tmp"))
    images = os.path.join(work, "images")
    os.mkdir(images)
    fifo = os.path.join(work, "tick")
    os.mkfifo(fifo)
    tmux = Tmux(work)
    # No fork per line: bash sleeps in `read -t` on a FIFO no one writes, so
    # the tree keeps its 11 pids and every image can get them back.
    loop = ('exec 9<>"$0"; i=0; while :; do echo $i; i=$((i+1)); '
            'read -t 0.05 -u 9; done')
    server = None
    try:
        tmux("new-session", "-d", "-s", "soak", "-x", "120", "-y", "30",
             "bash", "--norc", "-c", loop, fifo)
        for _ in range(WINDOWS - 1):
            tmux("new-window", "-d", "-t", "soak:", "bash", "--norc", "-c", loop, fifo)
        server = int(tmux("display-message", "-p", "#{pid}").strip())
        if not wait_until(lambda: all(last_number(tmux, p) >= 3 for p in tmux.panes())):
            raise RuntimeError("the panes never started counting")
        print(f"soak: tmux server {server}, {len(tmux.panes())} panes, dumping every "
              f"{INTERVAL:g} s for {MINUTES:g} min into {images}", flush=True)

        rows = []
        end = time.monotonic() + MINUTES * 60
        n = 0
        next_at = time.monotonic()
        while time.monotonic() < end:
            time.sleep(max(0.0, next_at - time.monotonic()))  # the pace of the soak, not a sync
            next_at += INTERVAL
            img = os.path.join(images, f"img-{n:04d}")
            status, out, err, maxrss = run_ckpt(["dump", str(server), "-o", img, "--json"])
            pids = tree_pids(server)
            row = {"n": n, "ok": status == 0, "ckpt_rss": maxrss,
                   "tree_rss": sum(rss_kib(p) for p in pids),
                   "tree_fds": sum(fd_count(p) for p in pids), "procs": len(pids)}
            if status == 0:
                j = json.loads(out)
                row.update(freeze=j.get("freeze_ms", 0), total=j.get("total_ms", 0),
                           size=sum(os.path.getsize(os.path.join(img, f))
                                    for f in os.listdir(img)))
            else:
                fail(f"dump {n}: {err.strip()}")
            rows.append(row)
            # Keep only the images that will be restored (disk stays bounded).
            if n > 0 and (n - 1) % SAMPLE != 0:
                shutil.rmtree(os.path.join(images, f"img-{n - 1:04d}"), ignore_errors=True)
            n += 1

        # Output of the original across every dump.
        panes = tmux.panes()
        if len(panes) != WINDOWS:
            fail(f"the original has {len(panes)} panes, not {WINDOWS}")
        printed = 0
        gaps = 0
        for p in panes:
            lines = tmux.numbers(p)
            printed += len(lines)
            why = contiguous(lines)
            if why:
                gaps += 1
                fail(f"original pane {p}: {why}")
        kill_tree(server)

        # Every kept image restores, one at a time.
        kept = sorted(os.listdir(images))
        restores = []
        for name in kept:
            img = os.path.join(images, name)
            t0 = time.monotonic()
            status, out, err, maxrss = run_ckpt(["restore", img, "--detach"])
            took = (time.monotonic() - t0) * 1000
            if status != 0 or out.strip() != str(server):
                fail(f"restore of {name}: status {status}: {err.strip()}")
                restores.append((name, False, took, maxrss))
                continue
            good = True
            panes = tmux.panes()
            if len(panes) != WINDOWS:
                fail(f"{name}: restored with {len(panes)} panes")
                good = False
            at = {p: last_number(tmux, p) for p in panes}
            if not wait_until(lambda: all(last_number(tmux, p) >= at[p] + 5 for p in panes), 20):
                fail(f"{name}: the restored panes do not count on")
                good = False
            for p in panes:
                why = contiguous(tmux.numbers(p))
                if why:
                    gaps += 1
                    fail(f"{name} restored, pane {p}: {why}")
                    good = False
            kill_tree(server)
            restores.append((name, good, took, maxrss))

        # The table.
        ok = [r for r in rows if r["ok"]]
        print()
        print(f"{'dumps':>6} {'failed':>6} {'freeze ms (med/max)':>20} {'dump ms (med/max)':>18} "
              f"{'image MiB (first/last)':>23}")
        if ok:
            fz = [r["freeze"] for r in ok]
            tt = [r["total"] for r in ok]
            print(f"{len(rows):>6} {len(rows) - len(ok):>6} "
                  f"{statistics.median(fz):>12.1f} / {max(fz):<6.1f}"
                  f"{statistics.median(tt):>11.1f} / {max(tt):<6.1f}"
                  f"{ok[0]['size'] / 2**20:>14.2f} / {ok[-1]['size'] / 2**20:.2f}")
        print()
        print(f"{'':24} {'first':>10} {'median':>10} {'last':>10} {'max':>10}")
        for key, label in (("ckpt_rss", "ckpt max RSS (KiB)"), ("tree_rss", "tree RSS (KiB)"),
                           ("tree_fds", "tree open fds"), ("procs", "tree processes")):
            vals = [r[key] for r in rows]
            if vals:
                print(f"{label:24} {vals[0]:>10} {int(statistics.median(vals)):>10} "
                      f"{vals[-1]:>10} {max(vals):>10}")
        print()
        print(f"panes: {WINDOWS}, lines printed: {printed}, every pane contiguous: "
              f"{'yes' if gaps == 0 else 'NO'}")
        print(f"images restored: {sum(1 for r in restores if r[1])} of {len(restores)} "
              f"(every {SAMPLE}th and the last); restore ms median "
              f"{statistics.median([r[2] for r in restores]) if restores else 0:.0f}")

        # Leaks: fds must not change; ckpt's RSS must not grow by more than
        # the tree's memory did (the pages it reads) plus a margin.
        if ok:
            if len({r["tree_fds"] for r in rows}) != 1:
                fail(f"the tree's fd count changed: {sorted({r['tree_fds'] for r in rows})}")
            if len({r["procs"] for r in rows}) != 1:
                fail(f"the tree's process count changed: {sorted({r['procs'] for r in rows})}")
            warm = rows[min(len(rows) - 1, 3):]
            grow_ckpt = warm[-1]["ckpt_rss"] - warm[0]["ckpt_rss"]
            grow_tree = warm[-1]["tree_rss"] - warm[0]["tree_rss"]
            print(f"after warm-up: ckpt max RSS {grow_ckpt:+d} KiB, tree RSS {grow_tree:+d} KiB")
            if grow_ckpt > max(grow_tree, 0) + 4096:
                fail(f"ckpt's max RSS grew by {grow_ckpt} KiB, the tree's by {grow_tree} KiB")
    finally:
        if server:
            kill_tree(server)
        subprocess.run(["tmux", "-S", tmux.sock, "kill-server"], capture_output=True)
        reap()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"soak: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("soak: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
