#!/usr/bin/env bash
# The tmux demo: a tmux server with a counting loop, vim holding unsaved
# edits and a python REPL holding a variable is checkpointed, killed and
# restored; its windows show what they showed, and everything runs on.
# `make demo` runs it (after the build); run from the repository root, as root.
set -euo pipefail

DEMO=tmux-demo
source "$(dirname "$0")/common.sh" "$@"

work=$(mktemp -d /tmp/ckpt-tmux-demo.XXXXXX)
sock=$work/tmux.sock
trap 'tmux -S "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

t() { tmux -S "$sock" "$@"; }
# Waits (up to 10 s) until window $1 shows the text $2.
wait_text() {
  local i
  for ((i = 0; i < 100; i++)); do
    t capture-pane -p -t "$1" | grep -qF -- "$2" && return 0
    sleep 0.1
  done
  die "window $1 never showed '$2'"
}
show() { printf -- '--- window %s:\n' "$1"; t capture-pane -p -t "$1" | grep -v -e '^$' -e '^~ *$' | tail -n "${2:-6}"; }

say "A tmux server (private socket) with three windows: a counter, vim, python"
echo "first line of the file" >"$work/notes.txt"
run tmux -S "$sock" -f /dev/null new-session -d -s demo -x 80 -y 20 \
  "sh -c 'i=0; while :; do i=\$((i+1)); echo count \$i; sleep 0.2; done'"
t new-window -d -t demo: "vim -u NONE -i NONE -N $work/notes.txt"
t new-window -d -t demo: "python3 -q"
wait_text demo:1 "first line"
t send-keys -t demo:1 o "an edit vim has not saved yet" Escape
t send-keys -t demo:2 "answer = 6 * 7" Enter
wait_text demo:1 "not saved yet"
wait_text demo:0 "count 5"
show demo:0 3
show demo:1 3
server=$(t display-message -p '#{pid}')
echo "the tmux server is pid $server"

say "Checkpoint the whole server and kill it"
run "$ckpt" dump "$server" -o "$work/img" --kill
for ((i = 0; i < 50; i++)); do [[ -e /proc/$server ]] || break; sleep 0.1; done
[[ -e /proc/$server ]] && die "the server is still running"
t list-sessions 2>/dev/null && die "tmux still answers" || echo "tmux: no server running"

say "What the image holds"
run "$ckpt" ls "$work"

say "Restore it: same pid, same socket, same windows"
run "$ckpt" restore "$work/img" --detach
run tmux -S "$sock" list-windows

say "The counter counts on; vim has its unsaved edit; python its variable"
last=$(t capture-pane -p -t demo:0 | grep -o 'count [0-9]*' | tail -n 1 | cut -d' ' -f2)
wait_text demo:0 "count $((last + 3))"
show demo:0 3
show demo:1 3
t send-keys -t demo:2 "print(answer)" Enter
wait_text demo:2 "42"
show demo:2 3
t send-keys -t demo:1 ":wq" Enter
for ((i = 0; i < 50; i++)); do grep -q "not saved yet" "$work/notes.txt" && break; sleep 0.1; done
echo "vim wrote: $(tr '\n' '|' <"$work/notes.txt")"
grep -q "not saved yet" "$work/notes.txt" || die "vim's edit was lost"
printf '\n%sdone: the tmux server came back with its programs running.%s\n' "$bold" "$plain"
echo "(to look yourself: ckpt dump \"\$(tmux display -p '#{pid}')\" -o img --kill; ckpt restore img --detach; tmux attach)"
