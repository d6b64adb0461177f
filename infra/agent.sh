#!/usr/bin/env bash
# hv-agent processes beside infra/cluster.sh: one per host, each running its host's VMs as real
# QEMU guests (KVM where it works, else TCG).
#   infra/agent.sh start <host> [--memory-mb N] [--reserve-mb R]   start the host's agent (registers the host)
#   infra/agent.sh stop <host>      stop the agent, then its guests (QEMU quits: a power cut for the guests)
#   infra/agent.sh kill <host>      SIGKILL the agent alone: its guests run on; 'restart' re-attaches them
#   infra/agent.sh restart <host>   stop the agent alone (SIGTERM) and start it again; guests run on
#   infra/agent.sh status           agents and their guests' QEMU processes
# Logs, pids and each host's run folder (agents/<host>/<vm>: sockets, console log, data disk) live in
# $HV_HOME (default ~/.hvorleans); the guest image is built once by infra/guest/build.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

HV_HOME="${HV_HOME:-$HOME/.hvorleans}"
pid_of() { cat "$HV_HOME/agent-$1.pid" 2>/dev/null || true; }
usage() { sed -n '2,11p' "$0"; exit 2; }

host_id() { # value
  [[ "${1:-}" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || { hv_log "a host id is 1-64 letters, digits, '.', '_' or '-'; got '${1:-}'"; exit 2; }
}

guest_pids() { # host
  local f
  for f in "$HV_HOME/agents/$1"/*/qemu.pid; do [ -e "$f" ] && cat "$f"; done
}

start_agent() { # host args...
  local host=$1; shift
  if hv_alive "$(pid_of "$host")"; then hv_log "agent $host is running (pid $(pid_of "$host"))"; return; fi
  [ -f "$HV_HOME/cluster.json" ] || { hv_log "no cluster in $HV_HOME: start one with infra/cluster.sh up"; exit 1; }
  # The arguments are kept for 'restart', one per line (read back without evaluation).
  printf '%s\n' "$@" > "$HV_HOME/agent-$host.args"
  printf '=== agent %s starting at %s\n' "$host" "$(date -u +%FT%T.%3NZ)" >> "$HV_HOME/agent-$host.log"
  local from; from=$(($(stat -c %s "$HV_HOME/agent-$host.log") + 1))
  HV_HOME="$HV_HOME" HV_GUEST_DIR="$GUEST" setsid dotnet "$HV_BIN_AGENT" --host "$host" --guest-image "$GUEST" "$@" \
    >> "$HV_HOME/agent-$host.log" 2>&1 < /dev/null &
  echo $! > "$HV_HOME/agent-$host.pid"
  # Connected once the log says so; a refusal (exit 1/2) ends the process first.
  local deadline=$((SECONDS + 60))
  until tail -c +"$from" "$HV_HOME/agent-$host.log" | grep -q "Agent for host $host connected"; do
    hv_alive "$(pid_of "$host")" || { hv_log "agent $host ended; its log:"; tail -n 5 "$HV_HOME/agent-$host.log" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { hv_log "agent $host did not connect in 60 s; see $HV_HOME/agent-$host.log"; exit 1; }
    sleep 0.3
  done
  hv_log "agent $host up (pid $(pid_of "$host"), log $HV_HOME/agent-$host.log)"
}

stop_agent() { hv_stop_pid_file "$HV_HOME/agent-$1.pid"; }

stop_guests() { # host
  local pid n=0
  for pid in $(guest_pids "$1"); do
    grep -q "agents/$1/" "/proc/$pid/cmdline" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null && n=$((n + 1))
  done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in $(guest_pids "$1"); do grep -q "agents/$1/" "/proc/$pid/cmdline" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break; sleep 0.2
  done
  rm -f "$HV_HOME/agents/$1"/*/{qemu.pid,boot.json,qmp.sock,ga.sock}
  hv_log "agent $1 stopped; $n guest(s) quit (the cluster still wants them running: the next 'start' boots them)"
}

cmd_status() {
  local f host
  for f in "$HV_HOME"/agent-*.pid "$HV_HOME"/agent-*.log; do
    [ -e "$f" ] || continue
    host="$(basename "$f")"; host="${host#agent-}"; host="${host%.*}"
    printf '%s\n' "$host"
  done | sort -u | while read -r host; do
    printf 'agent %-20s %s\n' "$host" "$(hv_alive "$(pid_of "$host")" && echo "running (pid $(pid_of "$host"))" || echo stopped)"
    for f in "$HV_HOME/agents/$host"/*/qemu.pid; do
      [ -e "$f" ] || continue
      printf '  vm %-22s qemu %s\n' "$(basename "$(dirname "$f")")" "$(hv_alive "$(cat "$f")" && echo "running (pid $(cat "$f"))" || echo "ended")"
    done
  done
}

GUEST="${HV_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hvorleans/guest}"
case "${1:-}" in
  start)
    [ $# -ge 2 ] || usage; host_id "$2"; host=$2; shift 2
    args=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --memory-mb|--reserve-mb) hv_require_int "$1" "${2:-}" 0 67108864; args+=("$1" "$2"); shift 2 ;;
        *) hv_log "unknown option $1"; usage ;;
      esac
    done
    hv_ensure_guest_packages
    GUEST="$("$HV_ROOT/infra/guest/build.sh" --out "$GUEST")"
    hv_build_if_stale
    mkdir -p "$HV_HOME"
    start_agent "$host" "${args[@]}" ;;
  stop) [ $# -eq 2 ] || usage; host_id "$2"; stop_agent "$2"; stop_guests "$2" ;;
  kill) [ $# -eq 2 ] || usage; host_id "$2"
        hv_alive "$(pid_of "$2")" || { hv_log "agent $2 is not running"; exit 1; }
        kill -KILL "$(pid_of "$2")" && rm -f "$HV_HOME/agent-$2.pid" && hv_log "agent $2 killed (SIGKILL); its guests run on" ;;
  restart) [ $# -eq 2 ] || usage; host_id "$2"
        [ -f "$HV_HOME/agent-$2.args" ] || { hv_log "agent $2 was never started here"; exit 2; }
        mapfile -t args < "$HV_HOME/agent-$2.args"
        stop_agent "$2"; hv_build_if_stale; start_agent "$2" "${args[@]}" ;;
  status) [ $# -eq 1 ] || usage; cmd_status ;;
  *) usage ;;
esac
