# Shared settings and small functions for the image build; sourced, never run.
# Every path and identifier the build derives lives here so that all steps agree.
set -euo pipefail

IMAGE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$IMAGE_DIR/.." && pwd)"
BOARD="${BOARD:-cm4}"
OUT="${OUT:-$REPO_DIR/out}"
case "$OUT" in /*) ;; *) OUT="$REPO_DIR/$OUT" ;; esac
CACHE="${CACHE:-$REPO_DIR/cache}"
SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# CONSOLE=1 puts the kernel and systemd status on the serial port, for debugging only:
# there is still no login on it.
CONSOLE="${CONSOLE:-0}"

BOARD_FILE="$IMAGE_DIR/boards/$BOARD.env"
[ -f "$BOARD_FILE" ] || { echo "unknown BOARD '$BOARD' (have: $(ls "$IMAGE_DIR/boards" | sed 's/\.env//' | tr '\n' ' '))" >&2; exit 2; }
# shellcheck source=/dev/null
. "$BOARD_FILE"

VERSION="${VERSION:-$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$REPO_DIR/app/evsite/__init__.py")}"
[ -n "$VERSION" ] || { echo "cannot read __version__ from app/evsite/__init__.py" >&2; exit 2; }
# One timestamp for every file and filesystem: the last commit, so rebuilding the same
# commit gives the same payload bytes.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH="$(git -C "$REPO_DIR" log -1 --format=%ct 2>/dev/null || echo 1700000000)"
fi
export SOURCE_DATE_EPOCH

BUILD="${BUILD:-$REPO_DIR/build/$BOARD}"
ROOTFS="$BUILD/rootfs"
PAYLOADS="$OUT/$BOARD"

# Partition sizes in MiB. Slots are sized with room for growth: an update can never
# resize a partition, so the first image fixes them for the device's life.
FIRMWARE_MIB=64
BOOT_MIB=96
ROOT_MIB=1024
DATA_MIB=64

# Partition type GUIDs.
TYPE_BASIC_DATA="EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"   # FAT: Pi firmware and boot slots
TYPE_ROOT_ARM64="B921B045-1DF0-41C3-AF44-4C6F280D3FAE"   # squashfs root slots
TYPE_LINUX_DATA="0FC63DAF-8483-4772-8E79-3D69D8477DE4"   # data; the only one of this type

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "$BOARD" "$*" >&2; }

# Partition UUIDs stay the same across versions (the boot script and fstab on the
# firmware and root partitions name them); filesystem IDs inside payloads follow the version.

part_uuid() { uuidgen --sha1 --namespace @url --name "evsite:$BOARD:part:$1"; }
disk_uuid() { uuidgen --sha1 --namespace @url --name "evsite:$BOARD:disk"; }
fs_uuid() { uuidgen --sha1 --namespace @url --name "evsite:$BOARD:$VERSION:fs:$1"; }
# FAT volume IDs are 32 bits: the first 8 hex digits of the filesystem UUID.
fat_id() { fs_uuid "$1" | tr -d '-' | cut -c1-8; }

# Host packages the build runs; checked, installed when root, otherwise named.
# (libubootenv-tool and nftables are for the image tests: fw_printenv, nft -c.)
HOST_DEBS="mmdebstrap qemu-user-static binfmt-support arch-test mtools dosfstools squashfs-tools \
e2fsprogs fdisk u-boot-tools bmap-tools xz-utils uuid-runtime python3-pip \
qemu-system-arm u-boot-qemu libubootenv-tool nftables"

host_deps() {
  local missing="" p
  for p in $HOST_DEBS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ]; then
    log "installing host packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "missing host packages:$missing — run: sudo apt-get install$missing" >&2
    exit 1
  fi
}

# arm64 binaries run through qemu-user; register it with binfmt_misc if the host has not.
binfmt_setup() {
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64 || update-binfmts --import qemu-aarch64
  fi
  arch-test arm64 >/dev/null || { echo "arm64 binaries do not run here (binfmt_misc/qemu-user)" >&2; exit 1; }
}

# Reproducible file times: every file of the tree gets SOURCE_DATE_EPOCH, whenever the
# build (or a reused bootstrap) made it. mkinitramfs copies file times from the tree as
# they are, and mksquashfs only clamps the newer ones.
clamp_mtimes() {
  find "$1" -xdev -print0 | xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"
}
