#!/usr/bin/env bash
# The main demo: a real program is checkpointed, killed, inspected and
# restored, and goes on counting from where it was. Run `make demo` (or this
# script after `make`) from the repository root, as root.
set -euo pipefail

DEMO=run-demo
source "$(dirname "$0")/common.sh" "$@"

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
alive() { [[ -e /proc/$1 ]] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
last_value() { tail -n 1 "$work/counter.txt" 2>/dev/null || echo 0; }
# Waits until the counter file ends at a value above $1 (or fails after $2 tenths of a second).
wait_count_above() {
  local i
  for ((i = 0; i < $2; i++)); do
    (($(last_value) > $1)) && return 0
    sleep 0.1
  done
  return 1
}
# Runs the counter in a session of its own, with nothing open but stdio: fds
# inherited from whatever started the demo are not the program's.
start_counter() {
  local fd
  for fd in $(ls "/proc/$BASHPID/fd"); do
    ((fd > 2)) && eval "exec $fd>&-"
  done
  exec setsid bash -c "$loop"
}
# Waits until no process is left in session $1 (zombies included).
wait_session_gone() {
  local i
  for ((i = 0; i < 100; i++)); do
    ps -e -o sid= | grep -qx " *$1" || return 0
    sleep 0.1
  done
  ps -e -o pid=,sid=,stat=,comm= | awk -v s="$1" '$2 == s' >&2
  return 1
}

[[ -x $ckpt ]] || die "$ckpt not found: run 'make' first"
((EUID == 0)) || die "restoring the same pids needs root (CAP_CHECKPOINT_RESTORE)"

work=$(mktemp -d /tmp/ckpt-demo.XXXXXX)
img=$work/img
pid=
newpid=
cleanup() {
  local p
  for p in $pid $newpid; do
    # Only the counter's own session: its pid is its session and group id.
    if alive "$p"; then kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

say "Is this kernel able to do it? (ckpt check)"
run "$ckpt" check || die "the kernel lacks a feature that dump or restore requires"

say "Start a program: a bash loop that appends 1, 2, 3, ... to counter.txt, ten times a second"
cd "$work"
loop='i=0; while :; do i=$((i+1)); echo $i >> counter.txt; sleep 0.1; done'
echo "bash -c '$loop'   (in $work, stdio to files, in a session of its own)"
start_counter </dev/null >loop.out 2>loop.err &
pid=$!
disown "$pid" # this shell still reaps it (and its orphans), without a job notice
wait_count_above 5 50 || die "the counter did not start"
[[ $(ps -o sid= -p "$pid" | tr -d ' ') == "$pid" ]] || die "the counter is not a session leader"
echo "pid $pid is counting: counter.txt ends at $(last_value)"
sleep 1
echo "one second later:      counter.txt ends at $(last_value)"

say "Checkpoint it into an image and kill it (ckpt dump --kill)"
t0=$(now_ms)
run "$ckpt" dump "$pid" -o "$img" --kill || die "ckpt dump failed"
echo "dump took $(($(now_ms) - t0)) ms"
at_dump=$(last_value)

say "The program is gone, and the counter stopped"
alive "$pid" && die "pid $pid is still running after dump --kill"
echo "pid $pid: no such process"
# This shell reaps them (a zombie would keep its pid taken); wait until it has.
wait_session_gone "$pid" || die "processes of the dumped session are still there"
sleep 1
(($(last_value) == at_dump)) || die "the counter moved while the program was dead"
echo "one second later, counter.txt still ends at $at_dump"

say "What the image holds (ckpt inspect)"
run "$ckpt" inspect "$img" || die "ckpt inspect failed"
run du -sh "$img"

say "Restore it, in the background (ckpt restore --detach prints its pid)"
t0=$(now_ms)
echo "\$ $ckpt restore $img --detach"
newpid=$("$ckpt" restore "$img" --detach) || die "ckpt restore failed"
echo "restore took $(($(now_ms) - t0)) ms; the restored program is pid $newpid"
[[ $newpid =~ ^[0-9]+$ ]] || die "ckpt restore --detach printed '$newpid', not a pid"
[[ $newpid == "$pid" ]] || die "restored as pid $newpid, not $pid"
alive "$newpid" || die "the restored program is not running"

say "It counts on from where it stopped, with no gap"
wait_count_above $((at_dump + 10)) 50 || die "the counter did not go on after restore"
echo "before the dump: counter.txt ended at $at_dump; now it ends at $(last_value)"
sed -n "$((at_dump - 2)),$((at_dump + 3))p" counter.txt | paste -sd' ' | sed 's/^/around the dump: /'
awk 'NR != $1 { printf "line %d holds %s\n", NR, $1; bad = 1; exit } END { exit bad }' \
  counter.txt || die "counter.txt has a gap or a repeat"
echo "every line n of counter.txt holds n: nothing lost, nothing repeated"

say "Stop it and clean up"
run kill -KILL -- "-$newpid"
for ((i = 0; i < 50; i++)); do alive "$newpid" || break; sleep 0.1; done
alive "$newpid" && die "the restored program did not stop"
newpid=
pid=
echo "done: the demo's temporary directory $work is removed"
