#!/usr/bin/env bash
# A stand-in fleet agent for hosts without an agent runtime: it shows a
# prompt, acknowledges every line it is sent, and reports busy or idle in its
# heartbeat file. It does no work; it lets the fleet machinery (start, ps,
# send --verify, watch, remove) be exercised end to end.
name=${MOSAIC_AGENT_NAME:-agent}
home=${MOSAIC_HOME:-${XDG_CONFIG_HOME:-$HOME/.config}/mosaic}
hb="$home/fleet/run/$name.hb"
beat() { printf '%s\n' "$1" >"$hb" 2>/dev/null || true; }

echo "stub agent $name ready: messages are acknowledged, not acted on"
beat idle
while true; do
  printf '%s> ' "$name"
  IFS= read -r line || exit 0
  [ -n "$line" ] || continue
  beat busy
  echo "ack: ${line:0:200}"
  beat idle
done
