#!/usr/bin/env bash
# Simulator scale, measured in one run: the same fleet, trace and policy through (a) the policy code
# alone, (b) host grains with in-memory state, (c) host grains with Azure Table state on Azurite.
# Prints VM-ticks/s, calls and writes per tick, and (b)/(a), (c)/(a). Needs the local cluster's
# Azurite for (c): it runs 'infra/cluster.sh up' (and leaves it up).
#   infra/sim-bench.sh [--hosts N] [--vms-per-host M] [--ticks T] [--policy P] [--trace DIR]
# The trace defaults to the repository's own (data/bitbrains-rnd-2013-7).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hosts=1000 vms=50 ticks=20 policy=hyperv trace="$HV_ROOT/data/bitbrains-rnd-2013-7"
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hv_require_int --hosts "${2:-}" 1 100000; hosts=$2; shift 2 ;;
    --vms-per-host) hv_require_int --vms-per-host "${2:-}" 1 10000; vms=$2; shift 2 ;;
    --ticks) hv_require_int --ticks "${2:-}" 1 100000; ticks=$2; shift 2 ;;
    --policy) [[ "${2:-}" =~ ^[a-z]+$ ]] || { hv_log "--policy is a policy name; got '${2:-}'"; exit 2; }; policy=$2; shift 2 ;;
    --trace) [ -d "${2:-}" ] || { hv_log "--trace: no such folder '${2:-}'"; exit 2; }; trace=$2; shift 2 ;;
    *) hv_log "unknown option $1"; exit 2 ;;
  esac
done
hv_ensure_packages jq:jq
hv_build_if_stale
"$HV_ROOT/infra/cluster.sh" up >/dev/null
declare -A rate
for storage in none memory azure; do
  json=$(dotnet "$HV_BIN_SIM" run --trace "$trace" --hosts "$hosts" --vms-per-host "$vms" --ticks "$ticks" \
    --policy "$policy" --storage "$storage" --json 2>/dev/null)
  rate[$storage]=$(jq '.policies[0].vmTicksPerSecond' <<<"$json")
  printf '%-7s %12s VM-ticks/s  resized/tick %8s  calls/tick %8s  writes/tick %8s\n' "$storage" "${rate[$storage]}" \
    $(jq -r '.policies[0] | "\(.resizedVmsPerTick) \(.grainCallsPerTick) \(.storageWritesPerTick)"' <<<"$json")
done
awk -v a="${rate[none]}" -v b="${rate[memory]}" -v c="${rate[azure]}" \
  'BEGIN { printf "(b)/(a) = %.1f %%   (c)/(a) = %.1f %%\n", 100*b/a, 100*c/a }'
