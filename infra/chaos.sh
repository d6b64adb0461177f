#!/usr/bin/env bash
# Chaos run: N silos + Azurite on their own ports and state folder, a bounded workload (hv chaos run:
# changing demand, balancing, backup jobs), and a seeded nemesis that SIGKILLs random silos (each
# restarted a few seconds later) and once pauses Azurite with SIGSTOP for 5 s. The workload then
# checks persisted state against what was acknowledged; exit code 1 on any violation.
#   infra/chaos.sh [--silos N] [--minutes M] [--seed S] [--kill-every SECONDS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
silos=3 minutes=2 seed=1 every=15
while [ $# -gt 0 ]; do
  case "$1" in
    --silos) hv_require_int --silos "${2:-}" 2 9; silos=$2; shift 2 ;;
    --minutes) hv_require_int --minutes "${2:-}" 1 600; minutes=$2; shift 2 ;;
    --seed) hv_require_int --seed "${2:-}" 0 2147483647; seed=$2; shift 2 ;;
    --kill-every) hv_require_int --kill-every "${2:-}" 5 3600; every=$2; shift 2 ;;
    *) hv_log "unknown option $1"; exit 2 ;;
  esac
done
RANDOM=$seed
export HV_HOME="$(mktemp -d /tmp/hv-chaos.XXXXXX)"
base=$((20000 + (seed % 200) * 50))
export HV_AZURITE_PORT_BASE=$base HV_SILO_PORT_BASE=$((base + 10)) HV_GATEWAY_PORT_BASE=$((base + 30))
# Every grain-state write is recorded for the checker (invariants at every persisted state, no lost update).
export Hv__AuditDirectory="$HV_HOME/audit"
cluster() { "$HV_ROOT/infra/cluster.sh" "$@"; }
cleanup() { kill -CONT "$(cat "$HV_HOME/azurite.pid" 2>/dev/null)" 2>/dev/null || true; cluster down >/dev/null 2>&1 || true; }
trap cleanup EXIT
hv_ensure_node_modules
hv_ensure_packages jq:jq
hv_build_if_stale
cluster up --fresh --silos "$silos" >&2

dotnet "$HV_BIN_DRILL" chaos run --minutes "$minutes" --seed "$seed" --audit "$Hv__AuditDirectory" > "$HV_HOME/summary.txt" &
workload=$!
kills=0 pauses=0 paused_once=0
end=$((SECONDS + minutes * 60))
# A fault every $every seconds on a fixed schedule: the time a restart takes does not stretch it.
next=$((SECONDS + 5 + every))
while kill -0 $workload 2>/dev/null && [ $SECONDS -lt $end ]; do
  [ $next -le $SECONDS ] || sleep $((next - SECONDS))
  next=$((next + every))
  kill -0 $workload 2>/dev/null || break
  if [ $paused_once -eq 0 ] && [ $kills -ge 2 ]; then
    hv_log "nemesis: pausing Azurite for 5 s (SIGSTOP)"
    kill -STOP "$(cat "$HV_HOME/azurite.pid")"; sleep 5; kill -CONT "$(cat "$HV_HOME/azurite.pid")"
    pauses=$((pauses + 1)); paused_once=1
    continue
  fi
  victim=$((RANDOM % silos))
  hv_log "nemesis: SIGKILL silo $victim"
  cluster kill "$victim" >&2 || true
  kills=$((kills + 1))
  sleep 3
  cluster restart "$victim" >&2 || true
done
rc=0; wait $workload || rc=$?
# A silo entry is Dead in the membership table for each SIGKILL; any more is a live silo evicted.
dead=$(dotnet "$HV_BIN_CLIENT" cluster show --json | jq '[.[] | select(.status == "Dead")] | length')
printf 'nemesis: %d SIGKILLs, %d Azurite pauses; membership: %d dead silo entries, %d false evictions\n' \
  "$kills" "$pauses" "$dead" "$((dead > kills ? dead - kills : 0))"
[ "$dead" -le "$kills" ] || rc=1
cat "$HV_HOME/summary.txt"
cleanup
# Keep the logs of a failed run for its post-mortem.
if [ $rc -eq 0 ]; then rm -rf "$HV_HOME"; else hv_log "logs kept in $HV_HOME"; fi
exit $rc
