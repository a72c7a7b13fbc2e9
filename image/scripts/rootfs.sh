#!/usr/bin/env bash
# Bootstrap the arm64 root filesystem into build/<board>/rootfs with mmdebstrap, then
# customize it (scripts/customize.sh). Downloaded .debs are kept in cache/debs.
. "$(dirname "$0")/common.sh"

packages() {
  sed 's/#.*//' "$IMAGE_DIR/packages/common.txt" "$IMAGE_DIR/packages/$BOARD.txt" \
    | tr -s ' \t\n' '\n' | sed '/^$/d' | sort -u | paste -sd, -
}

BASE="$BUILD/base"
# The bootstrap depends only on the package lists and the suite: reuse it while they hold.
stamp="$(cat "$IMAGE_DIR/packages/common.txt" "$IMAGE_DIR/packages/$BOARD.txt" "$0" | sha256sum | cut -c1-16)-$SUITE"
mkdir -p "$CACHE/debs" "$BUILD"
rm -rf "$ROOTFS"
if [ "$(cat "$BASE.stamp" 2>/dev/null)" != "$stamp" ] || [ "${REBOOTSTRAP:-0}" = 1 ]; then
rm -rf "$BASE" "$BASE.stamp"

# No docs, man pages or translations: they cost build time and flash, and nobody reads
# them on an appliance. Copyright files stay (licence notices).
dpkg_opts=()
for p in /usr/share/man/'*' /usr/share/doc/'*' /usr/share/info/'*' /usr/share/locale/'*' \
         /usr/share/lintian/'*' /usr/share/bug/'*' /usr/share/gtk-doc/'*' /usr/share/help/'*'; do
  dpkg_opts+=(--dpkgopt="path-exclude=$p")
done
dpkg_opts+=(--dpkgopt='path-include=/usr/share/doc/*/copyright'
            --dpkgopt='path-include=/usr/share/locale/locale.alias')

export BOARD VERSION SOURCE_DATE_EPOCH CONSOLE OUT BUILD CACHE
log "mmdebstrap $SUITE arm64: $(packages | tr , ' ')"
# The update-initramfs diversion stops every kernel and initramfs-tools trigger from
# building an initramfs during the install; customize.sh builds the one we want at the end.
mmdebstrap --mode=root --variant=minbase --architectures=arm64 \
  --components=main,non-free-firmware \
  --include="$(packages)" \
  "${dpkg_opts[@]}" \
  --aptopt='Acquire::Languages "none"' \
  --aptopt='APT::Install-Recommends "false"' \
  --skip=essential/unlink \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
  --setup-hook="cp -l $CACHE/debs/*.deb \"\$1\"/var/cache/apt/archives/ 2>/dev/null || cp $CACHE/debs/*.deb \"\$1\"/var/cache/apt/archives/ 2>/dev/null || true" \
  --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.real --add /usr/sbin/update-initramfs' \
  --essential-hook='printf "#!/bin/sh\nexit 0\n" > "$1"/usr/sbin/update-initramfs && chmod 755 "$1"/usr/sbin/update-initramfs' \
  --customize-hook="cp -n \"\$1\"/var/cache/apt/archives/*.deb $CACHE/debs/ 2>/dev/null || true" \
  --skip=cleanup/apt/lists \
  "$SUITE" "$BASE" \
  "deb $MIRROR $SUITE main non-free-firmware" \
  "deb $MIRROR $SUITE-updates main non-free-firmware" \
  "deb $SECURITY_MIRROR $SUITE-security main non-free-firmware"
echo "$stamp" > "$BASE.stamp"
else
  log "reusing the bootstrap in $BASE ($stamp)"
fi
"$IMAGE_DIR/scripts/fetch-firmware.sh" "$BASE"
# Contents, not the path: BASE may be a symlink to a shared bootstrap.
mkdir -p "$ROOTFS"
cp -a --reflink=auto "$BASE/." "$ROOTFS/"
"$IMAGE_DIR/scripts/customize.sh" "$ROOTFS"
log "rootfs ready: $(du -sh --exclude=proc "$ROOTFS" | cut -f1)"
