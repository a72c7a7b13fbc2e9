#!/usr/bin/env bash
# Fetch (not install) the board's firmware packages for the target's suite and
# architecture, using the bootstrapped tree's apt ($1), and unpack them to
# build/<board>/firmware-debs for the firmware partition. Reuses cache/debs.
. "$(dirname "$0")/common.sh"
target="$1"
dest="$BUILD/firmware-debs"
rm -rf "$dest"
mkdir -p "$dest" "$CACHE/debs"
[ -n "$FIRMWARE_DEBS" ] || exit 0
dl="$target/tmp/firmware-debs"
mkdir -p "$dl"
for p in $FIRMWARE_DEBS; do
  file="$(chroot "$target" apt-cache show --no-all-versions "$p" | sed -n 's|^Filename: .*/||p' | head -1)"
  [ -n "$file" ] || { echo "no package $p for the target" >&2; exit 1; }
  if [ ! -f "$CACHE/debs/$file" ]; then
    log "downloading $p"
    # apt inside the tree needs the host's resolver for this one download.
    saved="$(readlink "$target/etc/resolv.conf" || true)"
    rm -f "$target/etc/resolv.conf"
    cp -L /etc/resolv.conf "$target/etc/resolv.conf"
    ok=1
    chroot "$target" sh -c "cd /tmp/firmware-debs && apt-get download -qq $p" || ok=0
    rm -f "$target/etc/resolv.conf"
    [ -z "$saved" ] || ln -s "$saved" "$target/etc/resolv.conf"
    [ "$ok" = 1 ] || { echo "download of $p failed" >&2; exit 1; }
    cp "$dl/$file" "$CACHE/debs/"
  fi
  log "unpacking $file"
  dpkg-deb -x "$CACHE/debs/$file" "$dest"
done
rm -rf "$dl"
