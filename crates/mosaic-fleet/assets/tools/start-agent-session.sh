#!/usr/bin/env bash
# Starts one Mosaic fleet agent in its own detached tmux session, then keeps
# its heartbeat file fresh while the pane's process lives.
#
#   start-agent-session.sh <agent>
#
# Run by mosaic-agent@<agent>.service, or by `mosaic fleet start` on hosts
# without systemd. Settings come from the environment (the agent's env file):
# MOSAIC_TMUX_SOCKET (empty = the default tmux socket, no -L),
# MOSAIC_AGENT_RUNTIME, MOSAIC_AGENT_MODEL, MOSAIC_AGENT_CLASS,
# MOSAIC_AGENT_WORKDIR, and MOSAIC_AGENT_COMMAND (replaces the runtime launch).
# Agents need a real terminal, which is why they run inside tmux and not
# directly under systemd.
set -euo pipefail

AGENT_NAME=${1:-${MOSAIC_AGENT_NAME:-}}
MOSAIC_HOME=${MOSAIC_HOME:-${XDG_CONFIG_HOME:-$HOME/.config}/mosaic}
MOSAIC_TMUX_SOCKET=${MOSAIC_TMUX_SOCKET:-}
MOSAIC_AGENT_RUNTIME=${MOSAIC_AGENT_RUNTIME:-pi}
MOSAIC_AGENT_MODEL=${MOSAIC_AGENT_MODEL:-}
MOSAIC_AGENT_CLASS=${MOSAIC_AGENT_CLASS:-worker}
MOSAIC_AGENT_WORKDIR=${MOSAIC_AGENT_WORKDIR:-$HOME}
MOSAIC_AGENT_COMMAND=${MOSAIC_AGENT_COMMAND:-}
MOSAIC_BIN=${MOSAIC_BIN:-@MOSAIC_BIN@}
MOSAIC_HEARTBEAT_RUN_DIR=${MOSAIC_HEARTBEAT_RUN_DIR:-$MOSAIC_HOME/fleet/run}
MOSAIC_HEARTBEAT_INTERVAL=${MOSAIC_HEARTBEAT_INTERVAL:-10}

if [ -z "$AGENT_NAME" ]; then
  echo "usage: start-agent-session.sh <agent>" >&2
  exit 64
fi
if ! command -v tmux >/dev/null 2>&1; then
  echo "start-agent-session.sh: tmux is not installed; install it (Debian: apt-get install tmux)" >&2
  exit 69
fi

# Pass -L only when a socket is named: spawn, `fleet ps` and the comms
# cheat-sheet must all look at the same server.
_tmux() {
  if [ -n "$MOSAIC_TMUX_SOCKET" ]; then
    tmux -L "$MOSAIC_TMUX_SOCKET" "$@"
  else
    tmux "$@"
  fi
}

if _tmux has-session -t "=${AGENT_NAME}" 2>/dev/null; then
  echo "Mosaic agent session already running: $AGENT_NAME on socket ${MOSAIC_TMUX_SOCKET:-(default)}"
  exit 0
fi

if [ -z "$MOSAIC_AGENT_COMMAND" ]; then
  # The roster's model_hint becomes --model; without one the runtime's own
  # default model is used.
  printf -v MOSAIC_AGENT_COMMAND '%q agent launch %q --yolo' "$MOSAIC_BIN" "$MOSAIC_AGENT_RUNTIME"
  if [ -n "$MOSAIC_AGENT_MODEL" ]; then
    printf -v MOSAIC_AGENT_COMMAND '%s --model %q' "$MOSAIC_AGENT_COMMAND" "$MOSAIC_AGENT_MODEL"
  fi
fi

# Runtimes installed per user are often outside a systemd unit's PATH.
PANE_PATH=$PATH
for dir in "$HOME/.local/bin" "$HOME/.npm-global/bin" "$HOME/.cargo/bin" "$HOME/.bun/bin"; do
  if [ -d "$dir" ]; then
    case ":$PANE_PATH:" in *":$dir:"*) ;; *) PANE_PATH="$dir:$PANE_PATH" ;; esac
  fi
done

mkdir -p "$MOSAIC_AGENT_WORKDIR" "$MOSAIC_HEARTBEAT_RUN_DIR"

# The pane knows who it is, so `mosaic compose-contract` can inject the
# agent's persona and its comms cheat-sheet.
printf -v PANE_SHELL_SNIPPET 'export PATH=%q MOSAIC_HOME=%q MOSAIC_AGENT_NAME=%q MOSAIC_AGENT_CLASS=%q MOSAIC_AGENT_RUNTIME=%q MOSAIC_TMUX_SOCKET=%q; exec %s' \
  "$PANE_PATH" "$MOSAIC_HOME" "$AGENT_NAME" "$MOSAIC_AGENT_CLASS" "$MOSAIC_AGENT_RUNTIME" "$MOSAIC_TMUX_SOCKET" "$MOSAIC_AGENT_COMMAND"

_tmux new-session -d -s "$AGENT_NAME" -c "$MOSAIC_AGENT_WORKDIR" bash -c "$PANE_SHELL_SNIPPET"

PANE_PID=""
for _retry in 1 2 3 4 5; do
  PANE_PID=$(_tmux list-panes -t "=${AGENT_NAME}:^.{top-left}" -F '#{pane_pid}' 2>/dev/null || true)
  [ -n "$PANE_PID" ] && break
  sleep 0.2
done

if [ -z "$PANE_PID" ]; then
  echo "start-agent-session.sh: session $AGENT_NAME exited at once; run its command by hand to see why: $MOSAIC_AGENT_COMMAND" >&2
  exit 1
fi

# Heartbeat: refresh the file's time while the pane's process lives. An
# agent may also write its own state (busy or idle) into the same file.
HB="$MOSAIC_HEARTBEAT_RUN_DIR/$AGENT_NAME.hb"
touch "$HB"
nohup bash -c 'while kill -0 "$1" 2>/dev/null; do touch "$2"; sleep "$3"; done' \
  mosaic-heartbeat "$PANE_PID" "$HB" "$MOSAIC_HEARTBEAT_INTERVAL" </dev/null >/dev/null 2>&1 &

echo "Started Mosaic agent $AGENT_NAME (pane pid $PANE_PID) on socket ${MOSAIC_TMUX_SOCKET:-(default)}"
