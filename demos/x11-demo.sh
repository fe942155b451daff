#!/usr/bin/env bash
# The X11 demo: a digital xclock under `ckpt x11 run` on one Xvfb moves live
# to a second Xvfb of another size (`ckpt x11 move`), is then checkpointed
# without its X server (dump --kill) and restored back on the first one
# (`restore --display`). Pictures of its window (xwd, as PNG) are written to
# $OUT (default ./x11-demo) at every step and compared.
# Run `make demo-x11` (or this script after `make`) from the repository root, as root.
set -euo pipefail

DEMO=x11-demo
source "$(dirname "$0")/common.sh" "$@"

out=$(realpath -m "${OUT:-x11-demo}")
mkdir -p "$out"
work=$(mktemp -d /tmp/ckpt-x11-demo-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  [[ -n ${proxy:-} ]] && kill -TERM "$proxy" 2>/dev/null
  wait 2>/dev/null || true
  [[ -n ${KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

# An Xvfb on a free display, said ready on -displayfd; its number goes to
# the variable named $2 (not through $(...): the Xvfb is this shell's child).
xvfb() {
  local geometry=$1 n
  for ((n = 60; n < 160; n++)); do
    [[ -e /tmp/.X$n-lock || -e /tmp/.X11-unix/X$n ]] && continue
    rm -f "$work/fd"
    mkfifo "$work/fd"
    Xvfb ":$n" -displayfd 5 -nolisten tcp -screen 0 "$geometry" 5>"$work/fd" >/dev/null 2>>"$work/xvfb.log" &
    local pid=$! got=
    read -r got <"$work/fd" || true
    if [[ -n $got ]]; then
      pids+=("$pid")
      printf -v "$2" %s "$got"
      return
    fi
  done
  die "no free display for Xvfb"
}
a= b=
xvfb 640x480x24 a
xvfb 1024x768x24 b

window() { DISPLAY=:$1 xwininfo -root -tree 2>/dev/null | sed -n 's/^ *\(0x[0-9a-f]*\) "xclock".*/\1/p'; }
shows() { [[ -n $(window "$1") ]]; }
hidden() { [[ -z $(window "$1") ]]; }
# The window as PNG; prints the file's raw pixels' checksum for comparing.
picture() {
  local display=$1 file=$2 id
  id=$(window "$display")
  DISPLAY=:$display xwd -id "$id" -silent | xwdtopnm 2>/dev/null >"$work/p.ppm"
  pnmtopng <"$work/p.ppm" >"$file"
  md5sum <"$work/p.ppm" | cut -d' ' -f1
}
still() { # the same picture twice in a row
  local x y
  x=$(picture "$1" "$work/x.png") && y=$(picture "$1" "$work/y.png") && [[ $x == "$y" ]]
}

say "xclock on Xvfb :$a (640x480), through the proxy"
printf '$ ckpt x11 run --pidfile %s -- xclock -digital -strftime %%Y ...\n' "$work/x.pid"
DISPLAY=:$a "$ckpt" -v x11 run --pidfile "$work/x.pid" -- \
  xclock -digital -strftime '%Y' -update 3600 -geometry +40+40 2>"$work/proxy.log" &
proxy=$!
wait_for 100 shows "$a" || die "no xclock on :$a; $(cat "$work/proxy.log")"
wait_for 100 still "$a" || die "xclock never held still"
before=$(picture "$a" "$out/1-on-first-server.png")

say "Move it live to Xvfb :$b (1024x768): the client does not notice"
run "$ckpt" x11 move "$(cat "$work/x.pid")" --display ":$b"
wait_for 100 shows "$b" || die "xclock never showed on :$b"
wait_for 100 hidden "$a" || die "xclock is still on :$a"
wait_for 100 still "$b" || die "xclock never held still on :$b"
moved=$(picture "$b" "$out/2-moved-live.png")

say "Checkpoint it without its server (dump --kill), restore it on :$a"
run "$ckpt" dump "$(cat "$work/x.pid")" -o "$work/xclock.img" --kill
wait_for 100 hidden "$b" || die "xclock is still on :$b after the dump"
wait "$proxy" 2>/dev/null || true
proxy=
run "$ckpt" restore "$work/xclock.img" --detach --display ":$a"
wait_for 100 shows "$a" || die "xclock never came back on :$a"
wait_for 100 still "$a" || die "xclock never held still after restore"
restored=$(picture "$a" "$out/3-restored.png")
proxy=$(cat "$work/x.pid")

say "Compare"
[[ $moved == "$before" ]] || die "the moved window differs"
[[ $restored == "$before" ]] || die "the restored window differs"
echo "the same pixels on the first server, after the live move, and after the restore"
echo "pictures: $out/1-on-first-server.png $out/2-moved-live.png $out/3-restored.png"
