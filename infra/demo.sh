#!/usr/bin/env bash
# The Dynamic Memory demo: installs what is missing, starts the local cluster (Azurite + 1 silo),
# and plays a VM's life with hv — boot, hot-add under load, balloon when idle, unballoon — printing
# Hyper-V Manager's Memory tab and the guest's `free -m` at each step; then live backup; then a real
# Linux guest under QEMU on an hv-agent host, loaded and unloaded from inside. The cluster stays up after.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hv_ensure_node_modules
hv_ensure_packages jq:jq
hv_ensure_guest_packages
hv_build_if_stale
"$HV_ROOT/infra/cluster.sh" up
hv() { dotnet "$HV_BIN_CLIENT" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "A 16 GB host (1 GB reserved) and a VM: Startup 2048, Minimum 512, Maximum 8192 MB"
hv host add demo-host --memory-mb 16384 --reserve-mb 1024
# Hyper-V's own policy, whose documented arithmetic steps 1-4 show; the cluster's default is predict (docs/POLICIES.md).
hv host set demo-host --policy hyperv >/dev/null
hv vm create demo-vm --host demo-host --startup-mb 2048 --min-mb 512 --max-mb 8192 >/dev/null
hv vm stop demo-vm >/dev/null   # a rerun of the demo starts from a fresh boot
step "1. Boot: assigned = Startup, the guest sees Startup − 32 MB of firmware"
hv vm start demo-vm
step "2. Load: the guest reports 5000 MB committed → target 5000 × 1.2; hot-add in 128 MB blocks"
hv vm demand demo-vm --mb 5000 >/dev/null
hv balance demo-host
hv vm show demo-vm
step "3. Idle: demand 1000 MB → balloon down as far as the guest's floor allows; its total stays, buff/cache grows"
hv vm demand demo-vm --mb 1000 >/dev/null
hv balance demo-host
hv vm show demo-vm
step "4. Load again: demand 3000 MB → memory comes back by unballooning; no hot-add, the guest total unchanged"
hv vm demand demo-vm --mb 3000 >/dev/null
hv balance demo-host
hv vm show demo-vm
step "The host's ledger"
hv host show demo-host

step "5. Live backup: the guest writes 1 MB (still in its buffer), the VM is backed up while it runs"
run=$(date +%s)
hv disk write demo-vm --offset 0 --length 1048576 --seed "$run"
job=$(hv backup start demo-vm --json | jq -r .jobId)
hv backup show "$job" --wait 120
step "6. Verify the backup and restore it into a new VM: the same bytes"
backup=$(hv backup show "$job" --json | jq -r '.vms[0].backupId')
hv backup verify "$backup"
hv backup restore "$backup" --to "demo-restored-$run"
hv disk checksum demo-vm
step "7. A real guest: an agent host runs a Linux VM under QEMU (TCG here); its memory is the guest's own"
"$HV_ROOT/infra/agent.sh" start demo-real --memory-mb 3072 --reserve-mb 512
hv host set demo-real --policy hyperv >/dev/null   # Hyper-V's policy here too: step 9 shows its balloon
hv vm create demo-guest --host demo-real --startup-mb 512 --min-mb 256 --max-mb 1536 >/dev/null
hv vm start demo-guest >/dev/null
guest_up() { hv vm show demo-guest --json | jq -e '.real.guestState == "Running"' >/dev/null; }
for _ in $(seq 1 120); do guest_up && break; sleep 0.5; done
sleep 3
hv host show demo-real
hv vm show demo-guest
hv vm exec demo-guest -- free -m
step "8. memload 600 in the guest: demand rises, hot-add in 128 MB blocks, the guest's own total grows"
hv vm exec demo-guest -- memload 600
sleep 25
hv vm show demo-guest
hv vm exec demo-guest -- free -m
step "9. memload 0: the balloon takes memory back; the ballooned pages show as used inside the guest"
hv vm exec demo-guest -- memload 0
sleep 6
hv vm show demo-guest
hv vm exec demo-guest -- free -m
step "10. Live backup of the real guest: a file not yet synced, a freeze of ~70 ms, the point-in-time copy, then a boot test"
hv vm exec demo-guest -- sh -c "dd if=/dev/urandom of=/data/demo bs=64k count=32 2>/dev/null; grep Dirty: /proc/meminfo; sha256sum /data/demo"
hv backup start demo-guest --job "demo-guest-$run" >/dev/null
hv backup show "demo-guest-$run" --wait 120
hv backup verify "demo-guest@demo-guest-$run" --boot
printf '\nThe cluster is still running: try ./hv --help, ./hv watch host demo-host, ./hv vm show demo-vm --json; stop it (agents and guests too) with infra/cluster.sh down\n'
