#!/usr/bin/env bash
# Collect the application's wheels for aarch64/CPython 3.11: the pinned runtime and
# device requirements as binary wheels (no compiler in the image) and the evsite wheel from app/.
. "$(dirname "$0")/common.sh"

WHEELS="$BUILD/wheels"
WHEEL_CACHE="$CACHE/wheels"
rm -rf "$WHEELS"
mkdir -p "$WHEELS" "$WHEEL_CACHE"

HOST_PY="$REPO_DIR/.venv/bin/python"
[ -x "$HOST_PY" ] || HOST_PY=python3

# Debian 12 has glibc 2.36: every manylinux tag up to that runs on the device.
platforms=(--platform manylinux2014_aarch64)
for minor in $(seq 17 36); do platforms+=(--platform "manylinux_2_${minor}_aarch64"); done
pip_args=(--only-binary=:all: "${platforms[@]}" --python-version 3.11 --implementation cp
          --abi cp311 --disable-pip-version-check -q -r "$REPO_DIR/requirements/runtime.txt"
          -r "$REPO_DIR/requirements/device.txt")

# Offline first: a warm cache needs no network at all.
if ! "$HOST_PY" -m pip download --no-index --find-links "$WHEEL_CACHE" -d "$WHEEL_CACHE" \
      "${pip_args[@]}" >/dev/null 2>&1; then
  log "downloading aarch64 wheels"
  "$HOST_PY" -m pip download -d "$WHEEL_CACHE" "${pip_args[@]}"
fi
# Copy exactly the pinned set (the cache may hold older pins too).
"$HOST_PY" -m pip download --no-index --find-links "$WHEEL_CACHE" -d "$WHEELS" "${pip_args[@]}"

log "building the evsite $VERSION wheel"
"$HOST_PY" -m pip wheel --no-deps --no-build-isolation --disable-pip-version-check -q \
  -w "$WHEELS" "$REPO_DIR"
rm -rf "$REPO_DIR/build/lib" "$REPO_DIR/build/bdist."* 2>/dev/null || true
ls "$WHEELS" | sort > "$BUILD/wheels.txt"
log "$(wc -l < "$BUILD/wheels.txt") wheels in $WHEELS"
