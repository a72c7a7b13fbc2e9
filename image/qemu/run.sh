#!/usr/bin/env bash
# Boot an evsite disk image under QEMU (virt, cortex-a72, TCG) with Debian's U-Boot as
# firmware. Usage: image/qemu/run.sh DISK.img [SERIAL_LOG]
# Guest ports are forwarded to 127.0.0.1: HTTPS_PORT->443, OCPP_PORT->8887, SSH_PORT->22.
# The guest network is restricted: it reaches nothing but these forwards.
# QMP_SOCKET=path adds a QMP control socket (tests press the power button through it).
# No ACPI: the guest boots with the device tree, so the power button must be its GPIO key.
set -euo pipefail
disk="$1"
serial="${2:-stdio}"
[ "$serial" = stdio ] || serial="file:$serial"
HTTPS_PORT="${HTTPS_PORT:-8443}"
OCPP_PORT="${OCPP_PORT:-8887}"
SSH_PORT="${SSH_PORT:-2222}"
qmp=()
[ -z "${QMP_SOCKET:-}" ] || qmp=(-qmp "unix:$QMP_SOCKET,server=on,wait=off")
exec qemu-system-aarch64 -M virt,acpi=off -cpu cortex-a72 -smp "${SMP:-2}" -m "${MEM:-1024}" \
  -bios /usr/lib/u-boot/qemu_arm64/u-boot.bin \
  -display none -monitor none -serial "$serial" \
  -drive "if=none,file=$disk,format=raw,id=hd0,discard=unmap" -device virtio-blk-pci,drive=hd0 \
  -netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$HTTPS_PORT-:443,hostfwd=tcp:127.0.0.1:$OCPP_PORT-:8887,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22" \
  -device virtio-net-pci,netdev=net0 \
  -device virtio-rng-pci "${qmp[@]}"
