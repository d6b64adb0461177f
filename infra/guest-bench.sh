#!/usr/bin/env bash
# Real-guest figures, on a cluster and agent of its own (state in a temporary HV_HOME, own ports):
#   infra/guest-bench.sh [--steps 20] [--idle-guests 4] [--idle-seconds 60]
# 1. hv guest bench: boot, hot-add, balloon and unballoon latencies, by the guest's own clock;
# 2. the agent's cost: CPU and resident memory per idle guest, and each QEMU process's resident memory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
steps=20 idle=4 seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) hv_require_int --steps "${2:-}" 1 1000; steps=$2; shift 2 ;;
    --idle-guests) hv_require_int --idle-guests "${2:-}" 1 16; idle=$2; shift 2 ;;
    --idle-seconds) hv_require_int --idle-seconds "${2:-}" 10 3600; seconds=$2; shift 2 ;;
    *) hv_log "unknown option $1 (usage: guest-bench.sh [--steps N] [--idle-guests N] [--idle-seconds S])"; exit 2 ;;
  esac
done
export HV_HOME; HV_HOME="$(mktemp -d /tmp/hv-gbench-XXXX)"
export HV_AZURITE_PORT_BASE=27100 HV_SILO_PORT_BASE=27110 HV_GATEWAY_PORT_BASE=27130
trap '"$HV_ROOT/infra/cluster.sh" down >/dev/null 2>&1 || true; rm -rf "$HV_HOME"' EXIT
"$HV_ROOT/infra/cluster.sh" up
"$HV_ROOT/infra/agent.sh" start gbench --memory-mb $((1024 + idle * 1536)) --reserve-mb 0
hv() { dotnet "$HV_BIN_CLIENT" "$@"; }

hv guest bench --host gbench --steps "$steps"

for i in $(seq 1 "$idle"); do
  hv vm create "idle-$i" --host gbench --startup-mb 512 --min-mb 256 --max-mb 1536 >/dev/null
  hv vm start "idle-$i" >/dev/null
done
sleep 30   # booted and balanced
agent="$(cat "$HV_HOME/agent-gbench.pid")"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_mb() { awk '/VmRSS/{printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
ticks=$(getconf CLK_TCK); before=$(cpu "$agent")
sleep "$seconds"
after=$(cpu "$agent")
awk -v t=$((after - before)) -v hz="$ticks" -v s="$seconds" -v n="$idle" 'BEGIN {
  printf "agent with %d idle guests over %d s: %.2f %% of one core (%.3f %% per guest)\n", n, s, 100 * t / hz / s, 100 * t / hz / s / n }'
echo "agent resident memory: $(rss_mb "$agent") MB"
for f in "$HV_HOME"/agents/gbench/idle-*/qemu.pid; do
  echo "QEMU $(basename "$(dirname "$f")"): $(rss_mb "$(cat "$f")") MB resident, $(awk '{printf "%.1f", ($14 + $15) / '"$ticks"'}' "/proc/$(cat "$f")/stat") s CPU since boot"
done
