#!/usr/bin/env bash
# Write the device's settings and trusted update keys into DEST (the root's /etc/evsite):
#   DEST/config.toml         what `evsite run --config /etc/evsite/config.toml` reads
#   DEST/keyring/<id>.pub    the public key(s) bundles must be signed with
# SIGNING_PUB=<file.pub> puts a release key in (development bundles refused); without it
# the signing tool's development public key is used (made on first use, outside the
# repository) and development bundles are accepted. Only a public key is ever copied.
. "$(dirname "$0")/common.sh"
dest="$1"

HOST_PY="$REPO_DIR/.venv/bin/python"
[ -x "$HOST_PY" ] || HOST_PY=python3
sign() { "$HOST_PY" "$REPO_DIR/signing/evsite-sign" "$@"; }

if [ -n "${SIGNING_PUB:-}" ]; then
  pub="$SIGNING_PUB"
  keys=release
  allow_development=false
else
  # The development key pair lives where `make bundle` finds it; make it now if missing.
  dev_dir="$(PYTHONPATH="$REPO_DIR/signing:$REPO_DIR/app" "$HOST_PY" -c \
    'from evsite_sign.keys import ensure_dev_key; print(ensure_dev_key().parent)')"
  pub="$dev_dir/signing.pub"
  keys=development
  allow_development=true
fi
[ -f "$pub" ] || { echo "no public key at $pub" >&2; exit 2; }
# A private key must never reach an image, whatever file was named.
if grep -q 'PRIVATE KEY' "$pub" || ! grep -q -- '-----BEGIN PUBLIC KEY-----' "$pub"; then
  echo "$pub is not a PEM public key (SIGNING_PUB takes signing.pub, never signing.key)" >&2
  exit 2
fi
keyid="$(sign keyid "$pub")"

install -d -m 0755 "$dest" "$dest/keyring"
rm -f "$dest"/keyring/*.pub
install -m 0644 "$pub" "$dest/keyring/$keyid.pub"

slot() {
  printf '\n[update.slots.%s.%s]\npath = "/dev/disk/by-partlabel/%s_%s"\nsize = "%sMiB"\n' \
    "$1" "$2" "$2" "$(echo "$1" | tr AB ab)" "$3"
}
{
  cat <<TOML
# evsite device settings: $BOARD, $keys signing key $keyid.
# Written by image/scripts/device-config.sh. Part of the read-only root slot, so it
# changes only with an update and always matches the partitions of this image.
# Settings an admin saves in the web UI live on the data partition, not here.

[web]
port = 443

[update]
board = "$BOARD"
keyring = "/etc/evsite/keyring"
bootchooser = "uboot"
slot_writer = "helper"
helper_dir = "/usr/libexec/evsite"
helper_launcher = "privileged"
allow_development = $allow_development

[platform]
backend = "device"
helper_dir = "/usr/libexec/evsite"
helper_launcher = "privileged"
TOML
  if [ -n "${RESET_BUTTON_PIN:-}" ]; then
    printf 'button_pin = %s\n' "$RESET_BUTTON_PIN"
  fi
  # Sizes are given, not read: the app's sandbox has no access to the block devices.
  for b in A B; do
    slot "$b" boot "$BOOT_MIB"
    slot "$b" rootfs "$ROOT_MIB"
  done
} > "$dest/config.toml"
chmod 0644 "$dest/config.toml"
log "device config: $keys key $keyid, allow_development=$allow_development"
