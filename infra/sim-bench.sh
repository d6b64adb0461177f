#!/usr/bin/env bash
# Simulator scale, measured in one run: the same fleet, trace and policy through (a) the policy code
# alone, (b) host grains with in-memory state, (c) host grains with Azure Table state on Azurite.
# Prints VM-ticks/s, calls and writes per tick, and (b)/(a), (c)/(a). Needs the local cluster's
# Azurite for (c): it runs 'infra/cluster.sh up' (and leaves it up).
#   infra/sim-bench.sh [--hosts N] [--vms-per-host M] [--ticks T] [--policy P]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hosts=1000 vms=50 ticks=20 policy=hyperv
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts=$2; shift 2 ;; --vms-per-host) vms=$2; shift 2 ;; --ticks) ticks=$2; shift 2 ;; --policy) policy=$2; shift 2 ;;
    *) hv_log "unknown option $1"; exit 2 ;;
  esac
done
hv_build
"$HV_ROOT/infra/cluster.sh" up >/dev/null
trace="$HV_ROOT/../shared/data/bitbrains-rnd"
declare -A rate
for storage in none memory azure; do
  json=$(dotnet "$HV_BIN_CLIENT" sim run --trace "$trace" --hosts "$hosts" --vms-per-host "$vms" --ticks "$ticks" \
    --policy "$policy" --storage "$storage" --json 2>/dev/null)
  rate[$storage]=$(grep -o '"vmTicksPerSecond": [0-9.]*' <<<"$json" | grep -o '[0-9.]*$')
  printf '%-7s %12s VM-ticks/s  resized/tick %8s  calls/tick %8s  writes/tick %8s\n' "$storage" "${rate[$storage]}" \
    "$(grep -o '"resizedVmsPerTick": [0-9.]*' <<<"$json" | grep -o '[0-9.]*$')" \
    "$(grep -o '"grainCallsPerTick": [0-9.]*' <<<"$json" | grep -o '[0-9.]*$')" \
    "$(grep -o '"storageWritesPerTick": [0-9.]*' <<<"$json" | grep -o '[0-9.]*$')"
done
awk -v a="${rate[none]}" -v b="${rate[memory]}" -v c="${rate[azure]}" \
  'BEGIN { printf "(b)/(a) = %.1f %%   (c)/(a) = %.1f %%\n", 100*b/a, 100*c/a }'
