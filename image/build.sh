#!/usr/bin/env bash
# Build the evsite OS image: BOARD=cm4|qemu-arm64 OUT=out image/build.sh
# Steps: host packages and binfmt, app wheels, root filesystem, payloads, disk image.
# Must run as root (mmdebstrap in root mode, chroot under qemu-user).
. "$(dirname "$0")/scripts/common.sh"

if [ "$(id -u)" != 0 ]; then
  echo "the image build runs as root (mmdebstrap --mode=root, chroot): sudo make image" >&2
  host_deps
  exit 1
fi
started=$(date +%s)
log "evsite $VERSION for $BOARD ($BOARD_DESCRIPTION), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
host_deps
binfmt_setup
mkdir -p "$OUT" "$BUILD" "$CACHE"
step() { local s; s=$(date +%s); "$IMAGE_DIR/scripts/$1.sh"; log "$1: $(( $(date +%s) - s )) s"; }
step wheels
step rootfs
step payloads
step disk
log "done in $(( $(date +%s) - started )) s"
