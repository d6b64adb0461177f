#!/usr/bin/env bash
# Runs every test: installs Azurite (npm ci), QEMU, the guest image's Debian packages and Chromium if missing,
# builds, and runs unit, grain (memory and Azurite), end-to-end (real silo processes, SIGKILL, hv)
# and real-guest tests (hv-agent with QEMU guests), then the balancing benchmarks' regression bounds
# (infra/bench.sh --ci; not with a filter). Tests start and stop their
# own Azurite on free ports. Extra arguments go to 'dotnet test' (e.g. --filter FullyQualifiedName~Memory).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hv_ensure_node_modules
# The real-guest tests boot QEMU guests from the image infra/guest/build.sh makes (cached).
hv_ensure_guest_packages
# The fleet page's test opens it in Debian's headless Chromium.
hv_ensure_packages chromium:chromium
HV_GUEST_DIR="$("$HV_ROOT/infra/guest/build.sh")"
export HV_GUEST_DIR
hv_build
results="$(mktemp -d)"
rc=0
dotnet test "$HV_ROOT/tests/HvOrleans.Tests/HvOrleans.Tests.csproj" -c "$HV_CONFIGURATION" --no-build --nologo \
  --results-directory "$results" --logger "trx;LogFileName=tests.trx" --logger "console;verbosity=normal" "$@" || rc=$?
# The whole suite also runs the converging-pass benchmarks' regression bounds (about 30 s); a filtered run does not.
bench_rc=0
[ $# -eq 0 ] && { "$HV_ROOT/infra/bench.sh" --ci || bench_rc=$?; }
[ $bench_rc -eq 0 ] || rc=$bench_rc
# One plain closing line for humans and CI: counts read from the test run's own report.
if [ -f "$results/tests.trx" ]; then
  counters="$(grep -o '<Counters [^>]*>' "$results/tests.trx" | head -1)"
  passed="$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  failed="$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  printf '%s passed, %s failed\n' "${passed:-0}" "${failed:-0}"
  # Each failure's name and the start of its message again last, where a log cut to its tail still shows them.
  awk '/<UnitTestResult .*outcome="Failed"/ { match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11); failed = 1 }
       failed && /<Message>/ { sub(/.*<Message>/, ""); printf "FAILED %s: %s\n", name, substr($0, 1, 300); failed = 0 }' "$results/tests.trx"
fi
exit $rc
