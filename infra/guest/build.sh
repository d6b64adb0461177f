#!/usr/bin/env bash
# Builds the real-guest image from Debian packages only: the kernel of linux-image-amd64, its
# virtio/ext4 modules, busybox-static and qemu-guest-agent with the libraries it links.
#   infra/guest/build.sh [--out DIR] [--force]   prints the image folder (vmlinuz, initramfs.gz)
# Cached: rebuilt only when this folder's files or the kernel package change. The default folder is
# $HV_GUEST_DIR, else ~/.cache/hvorleans/guest.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

OUT="${HV_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hvorleans/guest}" FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="${2:?--out needs a folder}"; shift 2 ;;
    --force) FORCE=1; shift ;;
    *) hv_log "unknown option '$1' (usage: build.sh [--out DIR] [--force])"; exit 2 ;;
  esac
done

hv_ensure_guest_packages

KERNEL_PKG="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
if [ -z "$KERNEL_PKG" ]; then
  apt-get update -qq >&2
  KERNEL_PKG="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
fi
[ -n "$KERNEL_PKG" ] || { hv_log "no linux-image-amd64 in the Debian package lists (apt-get update)"; exit 1; }
GUEST_SRC="$(dirname "$0")"
STAMP="$KERNEL_PKG $(cat "$GUEST_SRC"/build.sh "$GUEST_SRC"/rootfs/* | sha256sum | cut -c1-16)"
if [ $FORCE = 0 ] && [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$STAMP" ]; then echo "$OUT"; exit 0; fi

hv_log "building the guest image in $OUT ($KERNEL_PKG, busybox-static, qemu-guest-agent)…"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && apt-get download "$KERNEL_PKG" >/dev/null 2>&1) || { hv_log "apt-get download $KERNEL_PKG failed"; exit 1; }
dpkg-deb -x "$WORK"/linux-image-*.deb "$WORK/kernel"
KVER="$(ls "$WORK/kernel/lib/modules")"
KMOD="$WORK/kernel/lib/modules/$KVER/kernel"

ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,run,tmp,data,lib/modules,usr/sbin,var}
ln -s ../run "$ROOT/var/run"
cp /bin/busybox "$ROOT/bin/busybox"
# Load order is the modules' own depends= order: busybox insmod resolves nothing.
MODULES="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
  drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/virtio/virtio_balloon
  drivers/virtio/virtio_mem drivers/char/virtio_console drivers/block/virtio_blk
  crypto/crc32c_generic lib/crc16 fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4"
: > "$ROOT/lib/modules/order"
for m in $MODULES; do
  cp "$KMOD/$m.ko" "$ROOT/lib/modules/"
  basename "$m" >> "$ROOT/lib/modules/order"
done
# The guest agent and every library it links, at the same paths as on the host.
cp /usr/sbin/qemu-ga "$ROOT/usr/sbin/"
for lib in $(ldd /usr/sbin/qemu-ga | awk '/=>/{print $3} /^[ \t]*\//{print $1}'); do
  mkdir -p "$ROOT$(dirname "$lib")"; cp -L "$lib" "$ROOT$lib"
done
install -m 0755 "$GUEST_SRC/rootfs/init" "$ROOT/init"
install -m 0755 "$GUEST_SRC/rootfs/memload" "$ROOT/bin/memload"
install -m 0755 "$GUEST_SRC/rootfs/shutdown" "$ROOT/sbin/shutdown"

mkdir -p "$OUT"
cp "$WORK/kernel/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs.gz"
echo "$KVER" > "$OUT/kernel-version"
echo "$STAMP" > "$OUT/stamp"
hv_log "guest image ready: $OUT ($(du -sh "$OUT" | cut -f1))"
echo "$OUT"
