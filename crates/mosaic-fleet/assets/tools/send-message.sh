#!/usr/bin/env bash
# Types one line into a tmux pane as-is (no preamble) and presses Enter.
#   send-message.sh [-L socket] -t target -m text
set -euo pipefail
socket="" target="" text=""
while [ $# -gt 0 ]; do
  case "$1" in
    -L) socket=${2:-}; shift 2 ;;
    -t) target=${2:-}; shift 2 ;;
    -m) text=${2:-}; shift 2 ;;
    *) echo "send-message.sh: unknown argument $1 (usage: send-message.sh [-L socket] -t target -m text)" >&2; exit 64 ;;
  esac
done
if [ -z "$target" ] || [ -z "$text" ]; then
  echo "send-message.sh: -t <target> and -m <text> are required" >&2
  exit 64
fi
_tmux() {
  if [ -n "$socket" ]; then tmux -L "$socket" "$@"; else tmux "$@"; fi
}
_tmux send-keys -t "$target" -l -- "$text"
_tmux send-keys -t "$target" Enter
