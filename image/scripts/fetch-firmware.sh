#!/usr/bin/env bash
# mmdebstrap customize hook: download (not install) the board's firmware packages with
# the target's apt, and unpack them to build/<board>/firmware-debs for the firmware partition.
. "$(dirname "$0")/common.sh"
target="$1"
dest="$BUILD/firmware-debs"
rm -rf "$dest"
mkdir -p "$dest"
[ -n "$FIRMWARE_DEBS" ] || exit 0
# shellcheck disable=SC2086
chroot "$target" apt-get install --download-only --no-install-recommends -y -qq $FIRMWARE_DEBS >/dev/null
for p in $FIRMWARE_DEBS; do
  deb="$(ls "$target"/var/cache/apt/archives/"${p}"_*.deb | sort -V | tail -1)"
  log "unpacking $(basename "$deb")"
  dpkg-deb -x "$deb" "$dest"
done
