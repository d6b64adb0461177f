#!/usr/bin/env bash
# How long 'hv vm show' takes against the local cluster ($HV_HOME; start it with infra/cluster.sh up),
# each way in the same run, interleaved so the machine's noise falls on all alike:
#   orleans   through an Orleans client (Hv__Client__WebUrls__0= switches the web reads off): the before
#   web       through a silo's web side (/api/v1), as hv reads by default when cluster.json lists them
#   web-r2r   the same, hv published ReadyToRun (--ready-to-run; the publish takes ~40 s once)
# Usage: infra/hv-latency.sh [--runs 10] [--vm VM] [--ready-to-run]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs=10 vm="" r2r=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) hv_require_int --runs "${2:-}" 1 1000; runs="$2"; shift 2 ;;
    --vm) vm="${2:?--vm needs a VM id}"; shift 2 ;;
    --ready-to-run) r2r=1; shift ;;
    *) hv_log "unknown option $1 (usage: infra/hv-latency.sh [--runs N] [--vm VM] [--ready-to-run])"; exit 2 ;;
  esac
done
hv_build_if_stale
hv() { dotnet "$HV_BIN_CLIENT" "$@"; }
if [ -z "$vm" ]; then
  vm=latency-vm
  hv host add latency-host --memory-mb 4096 --reserve-mb 1024 >/dev/null
  hv vm create "$vm" --host latency-host --startup-mb 1024 --min-mb 512 --max-mb 2048 >/dev/null
fi
hv vm show "$vm" >/dev/null   # warm: the grains are active, the files in the page cache
modes=(orleans web)
if [ $r2r -eq 1 ]; then
  r2r_dir="$HV_HOME/hv-ready-to-run"
  hv_log "publishing hv ReadyToRun into $r2r_dir…"
  dotnet publish "$HV_ROOT/src/Client/Client.csproj" -c "$HV_CONFIGURATION" -r linux-x64 --self-contained false \
    -p:PublishReadyToRun=true -o "$r2r_dir" --nologo -v quiet -clp:ErrorsOnly >&2
  modes+=(web-r2r)
fi
declare -A samples
for _ in $(seq 1 "$runs"); do
  for mode in "${modes[@]}"; do
    start=$(date +%s%N)
    case "$mode" in
      orleans) Hv__Client__WebUrls__0= dotnet "$HV_BIN_CLIENT" vm show "$vm" >/dev/null ;;
      web) dotnet "$HV_BIN_CLIENT" vm show "$vm" >/dev/null ;;
      web-r2r) dotnet "$r2r_dir/hv.dll" vm show "$vm" >/dev/null ;;
    esac
    samples[$mode]+="$(( ($(date +%s%N) - start) / 1000000 )) "
  done
done
printf '%-8s %6s %6s %6s  (ms, %s runs each, hv vm show %s)\n' mode p50 min max "$runs" "$vm"
for mode in "${modes[@]}"; do
  read -r p50 min max < <(tr ' ' '\n' <<<"${samples[$mode]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[NR]}')
  printf '%-8s %6s %6s %6s\n' "$mode" "$p50" "$min" "$max"
  declare "p50_${mode//-/_}=$p50"
done
awk -v o="$p50_orleans" -v w="$p50_web" 'BEGIN { printf "web p50 / orleans p50 = %.2f\n", w / o }'
