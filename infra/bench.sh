#!/usr/bin/env bash
# The converging-pass benchmarks (BenchmarkDotNet, tests/HvOrleans.Benchmarks): one host of 10, 100 and
# 1,000 VMs, roomy and short, the engine against a clamp-and-scale loop over the same VMs (the baseline,
# measured in the same run) and against the record form the grain used before.
#   infra/bench.sh          ShortRun (3 warm-ups, 3 iterations): the figures docs/BENCHMARKS.md records
#   infra/bench.sh --ci     a quicker run, then the regression bounds: exit 1 if the engine allocates per
#                           converge (over 16 B: BenchmarkDotNet's count wobbles by a few bytes in short
#                           runs; one array or object a converge would be 24 B or more), or costs more
#                           than $HV_BENCH_MAX_RATIO (150) times the baseline loop (measured 39-70x)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci=false
case "${1:-}" in
  --ci) ci=true ;;
  "") ;;
  *) hv_log "unknown option $1 (usage: bench.sh [--ci])"; exit 2 ;;
esac
max_ratio="${HV_BENCH_MAX_RATIO:-150}"
hv_ensure_packages jq:jq
project="$HV_ROOT/tests/HvOrleans.Benchmarks"
dotnet build "$project" -c Release --nologo -v q >/dev/null
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
job=(--job short)
# In CI: the pilot and warm-up kept short; enough to tell a regression of the bounds' size from noise.
$ci && job=(--job short --warmupCount 1 --iterationCount 3 --iterationTime 100)
# One run of the benchmarks and the bounds' check; exit status 1 when a bound is broken.
run_and_check() {
  rm -rf "$out/artifacts"
  ( cd "$out" && dotnet "$project/bin/Release/net10.0/HvOrleans.Benchmarks.dll" --filter '*ConvergingPass*' "${job[@]}" \
      --inProcess --exporters json --artifacts "$out/artifacts" ) > "$out/log" 2>&1 || { tail -40 "$out/log"; return 2; }
  report="$(ls "$out"/artifacts/results/*ConvergingPass*-report-full-compressed.json)"
  # Per case: Vms, Host, method, mean ns, allocated bytes per operation.
  jq -r '.Benchmarks[] | [.Parameters, .Method, .Statistics.Mean, (.Memory.BytesAllocatedPerOperation // 0)] | @tsv' "$report" \
    | sed 's/Vms=\([0-9]*\)&Host=\([a-z]*\)/\1\t\2/' > "$out/cases"
  awk -F'\t' -v max="$max_ratio" '
    { key = $1 " VMs, " $2; mean[key, $3] = $4; bytes[key, $3] = $5; keys[key] = 1 }
    END {
      bad = 0
      printf "%-16s %14s %14s %14s %8s %10s\n", "host", "baseline ns", "engine ns", "records ns", "ratio", "engine B"
      for (k in keys) {
        base = mean[k, "ClampAndScaleLoop"]; engine = mean[k, "HyperVConverge"]; records = mean[k, "HyperVConvergeRecords"]
        ratio = engine / base
        printf "%-16s %14.1f %14.1f %14.1f %7.1fx %10d\n", k, base, engine, records, ratio, bytes[k, "HyperVConverge"]
        if (bytes[k, "HyperVConverge"] > 16) { printf "REGRESSION %s: the engine allocates %d B per converge (bound: 16)\n", k, bytes[k, "HyperVConverge"]; bad = 1 }
        if (ratio > max) { printf "REGRESSION %s: the engine costs %.1fx the baseline loop (bound: %dx)\n", k, ratio, max; bad = 1 }
      }
      exit bad
    }' "$out/cases"
}
# In CI a short run on a shared machine can catch one slow iteration (a 10-VM converge is ~1 µs): a broken
# bound is measured once more, and only a bound broken twice fails the run.
status=0
run_and_check || status=$?
if $ci && [ "$status" -eq 1 ]; then
  hv_log "a bound was broken; measuring once more to tell a regression from a noisy iteration"
  run_and_check
  exit 0
fi
exit "$status"
