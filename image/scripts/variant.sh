#!/usr/bin/env bash
# A deliberately broken root payload, for the update tests: VARIANT=<name> makes
#   out/<board>/variants/<name>/rootfs.squashfs   (and boot.img, the normal one)
# from build/<board>/rootfs without touching that tree: the difference is added as
# mksquashfs pseudo files. Variants:
#   app-fails   the app's unit runs /bin/false instead of the app: the new version never
#               passes its health check, crash-loops, and the device must roll back.
#   app-hangs   the app says READY=1 and then hangs (image/variants/app-hangs.conf): the
#               unit's watchdog kills it again and again, and the device must roll back.
. "$(dirname "$0")/common.sh"
VARIANT="${VARIANT:?set VARIANT (app-fails, app-hangs)}"
[ -d "$ROOTFS/etc" ] || { echo "no root tree in $ROOTFS: run make image BOARD=$BOARD first" >&2; exit 2; }
[ -f "$PAYLOADS/boot.img" ] || { echo "no $PAYLOADS/boot.img: run make image BOARD=$BOARD first" >&2; exit 2; }

pseudo=()
case "$VARIANT" in
  app-fails)
    dropin=etc/systemd/system/evsite.service.d
    [ -d "$ROOTFS/$dropin" ] || pseudo+=(-p "$dropin d 755 0 0")
    pseudo+=(-p "$dropin/99-variant-app-fails.conf f 644 0 0 printf '[Service]\\nExecStart=\\nExecStart=/bin/false\\n'")
    ;;
  app-hangs)
    dropin=etc/systemd/system/evsite.service.d
    [ -d "$ROOTFS/$dropin" ] || pseudo+=(-p "$dropin d 755 0 0")
    pseudo+=(-p "$dropin/99-variant-app-hangs.conf f 644 0 0 cat $IMAGE_DIR/variants/app-hangs.conf")
    ;;
  *) echo "unknown VARIANT '$VARIANT' (have: app-fails, app-hangs)" >&2; exit 2 ;;
esac

dest="$PAYLOADS/variants/$VARIANT"
mkdir -p "$dest"
rm -f "$dest/rootfs.squashfs"
# The same options as the real payload (scripts/payloads.sh), plus the pseudo files;
# those go before -e, which takes every argument after it as an exclusion.
mksquashfs "$ROOTFS" "$dest/rootfs.squashfs" -noappend -quiet -no-progress \
  -comp zstd -Xcompression-level 15 -b 256K -processors "$(nproc)" -reproducible \
  "${pseudo[@]}" \
  -wildcards -e 'boot/vmlinuz-*' 'boot/initrd.img-*' 'boot/System.map-*' 'proc/*' 'sys/*' 'dev/*' 'run/*'
# Check that the breakage is really in: a variant identical to the payload proves nothing.
unsquashfs -lls "$dest/rootfs.squashfs" "etc/systemd/system/evsite.service.d/99-variant-$VARIANT.conf" \
  | grep -q "99-variant-$VARIANT.conf" || { echo "variant $VARIANT: drop-in missing" >&2; exit 1; }
cp --reflink=auto "$PAYLOADS/boot.img" "$dest/boot.img"
log "variant $VARIANT: $dest"
