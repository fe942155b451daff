#!/usr/bin/env bash
# The work behind the tmux key bindings of ckpt.tmux: `save` checkpoints the
# tmux server this runs under, leaving it running; `list` shows the images.
set -u
option() {
  local v
  v=$(tmux show-option -gqv "$1")
  echo "${v:-$2}"
}
bin=$(option @ckpt-bin ckpt)
dir=$(option @ckpt-dir "$HOME/.local/share/ckpt/tmux")
dir=${dir/#\~/$HOME}

case "${1:-}" in
  save)
    mkdir -p "$dir" && chmod 700 "$dir"
    server=$(tmux display-message -p '#{pid}')
    image="$dir/tmux-$(date +%Y%m%d-%H%M%S)"
    # This script is a child of the server, so inside the tree ckpt saves:
    # `setsid -f` starts the dump in a process whose parent exits at once;
    # it waits until it has been reparented out of the server's tree.
    # Attached clients (this terminal too) are connections to outside the
    # tree: --unix-close saves them as closed, so a restored server simply
    # has no clients until someone attaches.
    setsid -f bash -c '
      ppid() { sed "s/.*) //" "/proc/$1/stat" 2>/dev/null | cut -d" " -f2; }
      inTree() {
        local p=$1
        while [ -n "$p" ] && [ "$p" -gt 1 ]; do
          [ "$p" = "$2" ] && return 0
          p=$(ppid "$p")
        done
        return 1
      }
      while inTree $$ "$2"; do sleep 0.01; done
      if out=$("$1" dump "$2" -o "$3" --unix-close 2>&1); then
        tmux display-message "ckpt: saved $3"
      else
        tmux display-message "ckpt: $(printf "%s" "$out" | tail -n 1)"
      fi' _ "$bin" "$server" "$image" </dev/null >/dev/null 2>&1
    ;;
  list)
    "$bin" ls "$dir"
    ;;
  *)
    echo "usage: $0 save|list" >&2
    exit 2
    ;;
esac
