#!/usr/bin/env bash
# Assemble the flashable disk image from the payloads, without loop mounts:
# a sparse file, a GPT written by sfdisk, payloads copied in with dd.
# Writes out/evsite-<version>-<board>.img.xz, .bmap and SHA256SUMS.
. "$(dirname "$0")/common.sh"

name="evsite-$VERSION-$BOARD"
img="$BUILD/$name.img"
rm -f "$img" "$OUT/$name.img.xz" "$OUT/$name.img.bmap"

MiB=1048576
SECT=512
# name size(MiB) type payload; data is empty: the first boot makes its filesystem.
layout=(
  "firmware $FIRMWARE_MIB $TYPE_BASIC_DATA $BUILD/firmware.img"
  "boot_a $BOOT_MIB $TYPE_BASIC_DATA $PAYLOADS/boot.img"
  "boot_b $BOOT_MIB $TYPE_BASIC_DATA -"
  "rootfs_a $ROOT_MIB $TYPE_ROOT_ARM64 $PAYLOADS/rootfs.squashfs"
  "rootfs_b $ROOT_MIB $TYPE_ROOT_ARM64 -"
  "data $DATA_MIB $TYPE_LINUX_DATA -"
)
total=1   # MiB: GPT and alignment before the first partition
for row in "${layout[@]}"; do set -- $row; total=$((total + $2)); done
total=$((total + 1))   # backup GPT
truncate -s $((total * MiB)) "$img"

script="$BUILD/partitions.sfdisk"
{
  echo "label: gpt"
  echo "label-id: $(disk_uuid)"
  echo "unit: sectors"
  echo "first-lba: 2048"
  start=$((MiB / SECT))
  for row in "${layout[@]}"; do
    set -- $row
    attrs=""
    # U-Boot's distro boot looks for boot.scr on the bootable partitions first.
    [ "$1" = firmware ] && attrs=', attrs="LegacyBIOSBootable"'
    echo "start=$start, size=$(($2 * MiB / SECT)), type=$3, uuid=$(part_uuid "$1"), name=$1$attrs"
    start=$((start + $2 * MiB / SECT))
  done
} > "$script"
sfdisk --quiet --no-reread --no-tell-kernel "$img" < "$script"

start=1
for row in "${layout[@]}"; do
  set -- $row
  if [ "$4" != - ]; then
    dd if="$4" of="$img" bs=1M seek="$start" conv=notrunc,sparse status=none
  fi
  start=$((start + $2))
done
sfdisk --json "$img" > "$BUILD/partitions.json"

log "bmap and xz"
bmaptool -q create -o "$OUT/$name.img.bmap" "$img"
xz -T0 -3 -c "$img" > "$OUT/$name.img.xz"
(
  cd "$OUT"
  sha256sum "$name.img.xz" "$name.img.bmap" "$BOARD/boot.img" "$BOARD/rootfs.squashfs" \
    "$BOARD/boot.scr" > "SHA256SUMS.$BOARD"
  cat SHA256SUMS.* > SHA256SUMS
)
log "image: $OUT/$name.img.xz ($(du -h "$OUT/$name.img.xz" | cut -f1)), raw $(du -h --apparent-size "$img" | cut -f1)"
