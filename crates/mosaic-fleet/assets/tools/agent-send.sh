#!/usr/bin/env bash
# Sends one message to a Mosaic fleet agent's tmux session, prefixed with a
# preamble that names sender and receiver, so the receiver can reply:
#   [<src_host>:<src_session> -> <dst_host>:<dst_session>] <message>
#
#   agent-send.sh [-L socket] [-H user@host] [-S src] [--class tag] -s session -m message
#
#   -L  tmux socket of the receiver (omit for the default socket)
#   -H  the receiver is on another host: run this tool there over ssh
#   -S  sender label host:session (default: <this host>:$MOSAIC_AGENT_NAME or :operator)
#   -s  the receiver's session (its agent name)
#   -m  the message
#   --class  a triage tag, shown after the preamble
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

socket="" remote="" src="" session="" msg="" tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    -L) socket=${2:-}; shift 2 ;;
    -H) remote=${2:-}; shift 2 ;;
    -S) src=${2:-}; shift 2 ;;
    -s) session=${2:-}; shift 2 ;;
    -m) msg=${2:-}; shift 2 ;;
    --class) tag=${2:-}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "agent-send.sh: unknown argument $1" >&2; usage >&2; exit 64 ;;
  esac
done
if [ -z "$session" ] || [ -z "$msg" ]; then
  echo "agent-send.sh: -s <session> and -m <message> are required" >&2
  exit 64
fi

host=$(uname -n); host=${host%%.*}
[ -n "$src" ] || src="$host:${MOSAIC_AGENT_NAME:-operator}"

if [ -n "$remote" ]; then
  args=(-S "$src" -s "$session" -m "$msg")
  [ -n "$socket" ] && args=(-L "$socket" "${args[@]}")
  [ -n "$tag" ] && args+=(--class "$tag")
  # The remote shell expands its own $HOME; every argument is quoted for it.
  printf -v quoted '%q ' "${args[@]}"
  exec ssh "$remote" "\$HOME/.config/mosaic/tools/tmux/agent-send.sh $quoted"
fi

_tmux() {
  if [ -n "$socket" ]; then tmux -L "$socket" "$@"; else tmux "$@"; fi
}
if ! _tmux has-session -t "=${session}" 2>/dev/null; then
  echo "agent-send.sh: no session ${session} on socket ${socket:-(default)}" >&2
  exit 2
fi
# The first window's top-left pane, whatever base-index the tmux
# configuration sets; a bare "=name" is no pane target.
pane="=${session}:^.{top-left}"
text="[$src -> $host:$session]${tag:+ [$tag]} $msg"
_tmux send-keys -t "$pane" -l -- "$text"
_tmux send-keys -t "$pane" Enter
