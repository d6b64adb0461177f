#!/usr/bin/env bash
# Simulator scale, measured in one run: the same fleet, trace and policy through (a) the policy code
# alone, (b) host grains with in-memory state, (c) host grains with Azure Table state on Azurite.
# Prints VM-ticks/s, calls and writes per tick, and (b)/(a), (c)/(a). Each Azurite measurement starts
# on an empty Azurite (Azurite slows as its tables grow). The cluster is the local one
# (infra/cluster.sh, its HV_HOME and ports); it is left down.
#   infra/sim-bench.sh [--hosts N] [--vms-per-host M] [--ticks T] [--policy P] [--trace DIR] [--baseline REV] [--rounds R]
# --rounds R: (a) and (b) measured R times, round after round (each round: (a) then (b) of every build),
# and each build's median taken — on a shared machine one measurement can be off by a third. (c) once.
# --baseline REV: the same measurements, in the same run, with the simulator built from git revision
# REV (a worktree under $HV_HOME), and this build's rates as multiples of it.
# The trace defaults to the repository's own (data/bitbrains-rnd-2013-7).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hosts=1000 vms=50 ticks=20 policy=hyperv trace="$HV_ROOT/data/bitbrains-rnd-2013-7" baseline="" rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hv_require_int --hosts "${2:-}" 1 100000; hosts=$2; shift 2 ;;
    --vms-per-host) hv_require_int --vms-per-host "${2:-}" 1 10000; vms=$2; shift 2 ;;
    --ticks) hv_require_int --ticks "${2:-}" 1 100000; ticks=$2; shift 2 ;;
    --policy) [[ "${2:-}" =~ ^[a-z]+$ ]] || { hv_log "--policy is a policy name; got '${2:-}'"; exit 2; }; policy=$2; shift 2 ;;
    --trace) [ -d "${2:-}" ] || { hv_log "--trace: no such folder '${2:-}'"; exit 2; }; trace=$2; shift 2 ;;
    --baseline) git -C "$HV_ROOT" rev-parse --verify -q "${2:-}^{commit}" >/dev/null || { hv_log "--baseline: no such git revision '${2:-}'"; exit 2; }
      baseline=$2; shift 2 ;;
    --rounds) hv_require_int --rounds "${2:-}" 1 99; rounds=$2; shift 2 ;;
    *) hv_log "unknown option $1"; exit 2 ;;
  esac
done
hv_ensure_packages jq:jq
hv_build_if_stale
builds=("$HV_BIN_SIM")
names=("this build")
if [ -n "$baseline" ]; then
  tree="$HV_HOME/sim-bench-baseline"
  git -C "$HV_ROOT" worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"
  git -C "$HV_ROOT" worktree add -q --detach "$tree" "$baseline"
  trap 'git -C "$HV_ROOT" worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
  hv_log "building the baseline ($baseline) in $tree"
  dotnet build "$tree/src/Simulator/Simulator.csproj" -c Release --nologo -v q >/dev/null
  builds=("$tree/src/Simulator/bin/Release/net10.0/hv-sim.dll" "$HV_BIN_SIM")
  names=("baseline $(git -C "$HV_ROOT" rev-parse --short "$baseline")" "this build")
fi
declare -A rate runs
measure() {   # measure STORAGE BUILD: one run, its line printed, its rate added to the build's runs
  local storage=$1 b=$2 json
  [ "$storage" = azure ] && "$HV_ROOT/infra/cluster.sh" up --fresh >/dev/null 2>&1
  json=$(dotnet "${builds[$b]}" run --trace "$trace" --hosts "$hosts" --vms-per-host "$vms" --ticks "$ticks" \
    --policy "$policy" --storage "$storage" --json 2>/dev/null)
  [ "$storage" = azure ] && "$HV_ROOT/infra/cluster.sh" down >/dev/null 2>&1
  local r; r=$(jq '.policies[0].vmTicksPerSecond' <<<"$json")
  runs[$b,$storage]="${runs[$b,$storage]:-} $r"
  printf '%-17s %-7s %12s VM-ticks/s  resized/tick %8s  calls/tick %8s  writes/tick %8s\n' "${names[$b]}" "$storage" "$r" \
    $(jq -r '.policies[0] | "\(.resizedVmsPerTick) \(.grainCallsPerTick) \(.storageWritesPerTick)"' <<<"$json")
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for round in $(seq "$rounds"); do
  [ "$rounds" -gt 1 ] && hv_log "round $round of $rounds"
  for storage in none memory; do
    for b in "${!builds[@]}"; do measure "$storage" "$b"; done
  done
done
for b in "${!builds[@]}"; do measure azure "$b"; done
for key in "${!runs[@]}"; do rate[$key]=$(median "${runs[$key]}"); done
[ "$rounds" -gt 1 ] && for b in "${!builds[@]}"; do
  printf '%-17s medians of %d rounds: (a) %s  (b) %s VM-ticks/s\n' "${names[$b]}" "$rounds" "${rate[$b,none]}" "${rate[$b,memory]}"
done
for b in "${!builds[@]}"; do
  awk -v n="${names[$b]}" -v a="${rate[$b,none]}" -v b="${rate[$b,memory]}" -v c="${rate[$b,azure]}" \
    'BEGIN { printf "%-17s (b)/(a) = %.1f %%   (c)/(a) = %.1f %%\n", n, 100*b/a, 100*c/a }'
done
if [ -n "$baseline" ]; then
  for storage in none memory azure; do
    awk -v s="$storage" -v old="${rate[0,$storage]}" -v new="${rate[1,$storage]}" 'BEGIN { printf "%-7s this build / baseline = %.2fx\n", s, new/old }'
  done
fi
