#!/usr/bin/env bash
# The VNC demo: a desktop (twm, an xterm with text, xlogo, xcalc) under
# `ckpt vnc run` is hibernated (dump --kill) and restored; pictures taken
# over RFB before and after are written to $OUT (default ./vnc-demo) and
# compared, and the gateway's log says how long its viewers saw it frozen.
# Run `make demo-vnc` (or this script after `make`) from the repository root, as root.
set -euo pipefail

DEMO=vnc-demo
source "$(dirname "$0")/common.sh" "$@"

out=$(realpath -m "${OUT:-vnc-demo}")
mkdir -p "$out"
work=$(mktemp -d /tmp/ckpt-vnc-demo-XXXXXX)
gateway=
cleanup() {
  [[ -n $gateway ]] && kill -TERM "$gateway" 2>/dev/null && wait "$gateway" 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

# A free port and display (a dumped desktop's display keeps its lock file).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
display=50
while [[ -e /tmp/.X$display-lock || -e /tmp/.X11-unix/X$display ]]; do display=$((display + 1)); done

say "Start a desktop: Xvnc on :$display, twm, an xterm, xlogo and xcalc; viewers on port $port"
session='xterm -geometry 60x12+0+0 -e /bin/sh -c "echo hibernated by ckpt; PS1=\"$ \" exec /bin/sh" &
xlogo -geometry 120x120+420+0 &
xcalc -geometry +560+0 &
exec twm -f "$CKPT_VNC_DIR/twmrc"'
printf '$ ckpt -v vnc run --display :%s --rfbport %s --geometry 800x600 --pidfile %s -- /bin/sh -c ...\n' \
  "$display" "$port" "$work/desk.pid"
"$ckpt" -v vnc run --display ":$display" --rfbport "$port" --geometry 800x600 \
  --pidfile "$work/desk.pid" -- /bin/sh -c "$session" >"$work/gateway.out" 2>"$work/gateway.log" &
gateway=$!
wait_for 100 test -s "$work/desk.pid" || die "no pidfile; $(cat "$work/gateway.log")"
desk=$(cat "$work/desk.pid")
cat "$work/gateway.out"
shown() { (($(DISPLAY=:$display xwininfo -root -tree 2>/dev/null | grep -c '"xcalc"\|"xlogo"\|"sh"') >= 3)); }
wait_for 200 shown || die "the windows never showed"
# The picture holds still once two snapshots in a row are the same.
still() {
  "$ckpt" vnc snapshot "127.0.0.1:$port" -o "$work/a.png" &&
    "$ckpt" vnc snapshot "127.0.0.1:$port" -o "$work/b.png" && cmp -s "$work/a.png" "$work/b.png"
}
wait_for 100 still || die "the picture never held still"

say "A picture over RFB, through the gateway"
run "$ckpt" vnc snapshot "127.0.0.1:$port" -o "$out/before.png"

say "Hibernate the desktop: dump --kill (the gateway stays, its viewers see the last picture)"
run "$ckpt" dump "$desk" -o "$work/desk.img" --kill --json
run "$ckpt" ls "$work"
run "$ckpt" inspect "$work/desk.img" --thumbnail "$out/thumbnail.png"
echo "image size: $(du -sh "$work/desk.img" | cut -f1)"
gone() { ! kill -0 "$desk" 2>/dev/null; }
wait_for 100 gone || die "the desktop is still there"

say "Restore it (any process may): the gateway reconnects by itself"
run "$ckpt" restore "$work/desk.img" --detach --json
wait_for 100 grep -q "the desktop is back" "$work/gateway.log" || die "the gateway did not reconnect"
grep "frozen for" "$work/gateway.log" | sed 's/^ckpt: info: vnc run: /gateway: /'
run "$ckpt" vnc snapshot "127.0.0.1:$port" -o "$out/after.png"

say "Compare"
if cmp -s "$out/before.png" "$out/after.png"; then
  echo "before.png and after.png are identical: the same desktop, pixel for pixel"
else
  die "before.png and after.png differ"
fi
echo "pictures: $out/before.png $out/after.png $out/thumbnail.png"
kill -TERM "$desk" 2>/dev/null || true
