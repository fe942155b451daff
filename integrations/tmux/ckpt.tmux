#!/usr/bin/env bash
# ckpt for tmux: checkpoint the whole tmux server (every session, window,
# pane and the programs running in them) from inside it.
#
#   prefix + C-s   save this server into a dated image
#   prefix + C-l   list the saved images
#
# Load it from ~/.tmux.conf with
#   run-shell /usr/local/share/ckpt/tmux/ckpt.tmux
# (or through TPM). Options, set before that line:
#   set -g @ckpt-dir ~/.local/share/ckpt/tmux   where images go
#   set -g @ckpt-bin ckpt                       the ckpt binary
#   set -g @ckpt-save-key C-s
#   set -g @ckpt-list-key C-l
# Bring a saved server back (after a reboot, say) with
#   ckpt restore ~/.local/share/ckpt/tmux/tmux-DATE --detach && tmux attach
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
option() {
  local v
  v=$(tmux show-option -gqv "$1")
  echo "${v:-$2}"
}
tmux bind-key "$(option @ckpt-save-key C-s)" run-shell -b "'$here/ckpt-tmux.sh' save"
tmux bind-key "$(option @ckpt-list-key C-l)" run-shell "'$here/ckpt-tmux.sh' list"
