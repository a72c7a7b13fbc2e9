#!/usr/bin/env bash
# Make the partition payloads from build/<board>/rootfs:
#   out/<board>/boot.img         FAT: Image + initrd.img   (one boot slot; in the bundle)
#   out/<board>/rootfs.squashfs  the read-only root        (one root slot; in the bundle)
#   build/<board>/firmware.img   FAT: boot.scr, bootchooser.env (+ Pi firmware, U-Boot, DTB)
# Timestamps, file order and filesystem IDs are fixed, so a rebuild gives the same bytes.
. "$(dirname "$0")/common.sh"
export MTOOLS_SKIP_CHECK=1
mkdir -p "$PAYLOADS"
stage="$BUILD/stage"
rm -rf "$stage"
mkdir -p "$stage/boot" "$stage/firmware"

# Boot environment: 16 KiB per copy, redundant layout (CRC32, flags byte, data).
ENV_SIZE=0x4000
DATA_SIZE=$(printf '0x%x' $((ENV_SIZE - 5)))
CRC_DATA_SIZE=$(printf '0x%x' $((ENV_SIZE - 1)))
kver="$(ls "$ROOTFS/lib/modules" | sort -V | tail -1)"

# FAT image of a directory: size in MiB, volume label, ID name, source dir, output file.
fat_image() {
  local mib="$1" label="$2" idname="$3" src="$4" img="$5"
  rm -f "$img"
  mkfs.vfat --invariant -i "$(fat_id "$idname")" -n "$label" -C "$img" $((mib * 1024)) >/dev/null
  find "$src" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  local f
  # Sorted, so directory entries are always in the same order.
  while IFS= read -r f; do
    if [ -d "$src/$f" ]; then mmd -i "$img" "::$f"; else mcopy -i "$img" -m "$src/$f" "::$f"; fi
  done < <(cd "$src" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort)
}
mib_for() { echo $(( ($(du -sbc "$@" | tail -1 | cut -f1) * 11 / 10) / 1048576 + 4 )); }

log "boot slot: kernel $kver"
# booti wants the plain Image (Debian's arm64 vmlinuz is one; older ones were gzipped).
if gzip -t "$ROOTFS/boot/vmlinuz-$kver" 2>/dev/null; then
  gzip -dc "$ROOTFS/boot/vmlinuz-$kver" > "$stage/boot/Image"
else
  cp "$ROOTFS/boot/vmlinuz-$kver" "$stage/boot/Image"
fi
cp "$ROOTFS/boot/initrd.img-$kver" "$stage/boot/initrd.img"
boot_mib="$(mib_for "$stage/boot")"
[ "$boot_mib" -le "$BOOT_MIB" ] || { echo "boot payload ${boot_mib} MiB > slot ${BOOT_MIB} MiB" >&2; exit 1; }
fat_image "$boot_mib" EVBOOT boot "$stage/boot" "$PAYLOADS/boot.img"

log "root slot: squashfs"
rm -f "$PAYLOADS/rootfs.squashfs"
# The kernel and initramfs live in the boot slot; the root only needs the modules.
# mksquashfs takes SOURCE_DATE_EPOCH for the filesystem's time and clamps newer file
# times to it; older ones (a reused bootstrap) are set in the tree first.
clamp_mtimes "$ROOTFS"
mksquashfs "$ROOTFS" "$PAYLOADS/rootfs.squashfs" -noappend -quiet -no-progress \
  -comp zstd -Xcompression-level 15 -b 256K -processors "$(nproc)" \
  -reproducible \
  -wildcards -e 'boot/vmlinuz-*' 'boot/initrd.img-*' 'boot/System.map-*' 'proc/*' 'sys/*' 'dev/*' 'run/*'
root_bytes="$(stat -c %s "$PAYLOADS/rootfs.squashfs")"
[ "$root_bytes" -le $((ROOT_MIB * 1048576)) ] || { echo "root payload larger than its slot" >&2; exit 1; }

log "firmware partition"
sed -e "s/@ENV_SIZE@/$ENV_SIZE/g" -e "s/@DATA_SIZE@/$DATA_SIZE/g" -e "s/@CRC_DATA_SIZE@/$CRC_DATA_SIZE/g" -e "s/@DEVTYPE@/${UBOOT_DEVTYPE:-mmc}/g" \
    -e "s/@EXTRA_BOOTARGS@/$([ "$CONSOLE" = 1 ] && echo "$CONSOLE_BOOTARGS")/g" \
    "$IMAGE_DIR/boot/boot.cmd" > "$stage/boot.cmd"
mkimage -q -A arm64 -O linux -T script -C none -n "evsite boot chooser" \
  -d "$stage/boot.cmd" "$stage/firmware/boot.scr" >/dev/null
for copy in 1 2; do
  mkenvimage -r -s "$ENV_SIZE" -o "$stage/firmware/bootchooser$copy.env" "$IMAGE_DIR/boot/bootchooser.env.txt"
done
if [ "$BOARD" = cm4 ]; then
  fw="$BUILD/firmware-debs"
  cp "$fw"/usr/lib/raspi-firmware/{start4.elf,fixup4.dat} "$stage/firmware/"
  cp "$fw"/usr/lib/raspi-firmware/LICENCE.broadcom "$stage/firmware/" 2>/dev/null || true
  cp "$fw"/usr/lib/u-boot/rpi_arm64/u-boot.bin "$stage/firmware/"
  cp "$ROOTFS/usr/lib/linux-image-$kver/broadcom/$RPI_DTB" "$stage/firmware/"
  cp "$IMAGE_DIR/rpi/config.txt" "$stage/firmware/"
fi
fat_image "$FIRMWARE_MIB" EVFIRMWARE firmware "$stage/firmware" "$BUILD/firmware.img"
cp "$stage/firmware/boot.scr" "$PAYLOADS/boot.scr"

log "payloads: boot.img $(du -h --apparent-size "$PAYLOADS/boot.img" | cut -f1)," \
    "rootfs.squashfs $(du -h --apparent-size "$PAYLOADS/rootfs.squashfs" | cut -f1)"
