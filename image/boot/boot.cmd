# evsite A/B boot chooser (U-Boot script, RAUC's variable convention).
# Built into boot.scr by image/scripts/payloads.sh; @...@ are filled in at build time.
#
# Disk layout (GPT): 1 firmware (FAT: this script, bootchooser[12].env), 2 boot_a, 3 boot_b
# (FAT: Image, initrd.img), 4 rootfs_a, 5 rootfs_b (squashfs), 6 data (ext4).
#
# The boot environment is a redundant U-Boot environment in two files on partition 1,
# bootchooser1.env and bootchooser2.env, @ENV_SIZE@ bytes each: CRC32 (4 bytes), flags
# (1 byte, incremented by every write), then NUL-separated name=value pairs. Only
# BOOT_ORDER, BOOT_A_LEFT, BOOT_B_LEFT and MACHINE_ID are read from it. The copy with
# the newer flags that has a good CRC wins; a write always goes to the other copy, so a
# power cut mid-write leaves the previous state. Linux uses the same two files through
# libubootenv (fw_printenv/fw_setenv, /etc/fw_env.config).
# Choice: the first slot in BOOT_ORDER with tries left; its counter goes down by one and
# is saved before the kernel starts. With no tries left anywhere, the counters are
# reset and BOOT_ORDER is followed again.

setenv evsite_vars BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT MACHINE_ID
if test -z "${devtype}"; then setenv devtype @DEVTYPE@; fi
if test -z "${devnum}"; then setenv devnum 0; fi
# Scratch memory (the kernel is loaded there later): copy 1, copy 2, CRC+data work area.
setenv evsite_e1 ${kernel_addr_r}
setexpr evsite_e2 ${kernel_addr_r} + 0x10000
setexpr evsite_w ${kernel_addr_r} + 0x20000
setexpr evsite_w4 ${evsite_w} + 4
setexpr evsite_f1 ${evsite_e1} + 4
setexpr evsite_f2 ${evsite_e2} + 4
mw.b ${evsite_e1} 0 0x30000
load ${devtype} ${devnum}:1 ${evsite_e1} bootchooser1.env
load ${devtype} ${devnum}:1 ${evsite_e2} bootchooser2.env
# Newer copy first (flags wrap from ff to 0), then the other one.
setenv evsite_try "1 2"
if itest.b *${evsite_f2} -gt *${evsite_f1}; then setenv evsite_try "2 1"; fi
if itest.b *${evsite_f1} -eq 0xff; then if itest.b *${evsite_f2} -eq 0; then setenv evsite_try "2 1"; fi; fi
if itest.b *${evsite_f2} -eq 0xff; then if itest.b *${evsite_f1} -eq 0; then setenv evsite_try "1 2"; fi; fi
setenv evsite_loaded 0
for n in ${evsite_try}; do
  if test "${evsite_loaded}" = "0"; then
    if test "${n}" = "1"; then setenv evsite_src ${evsite_e1}; else setenv evsite_src ${evsite_e2}; fi
    # env import -c wants the CRC right before the data: drop the flags byte.
    cp.b ${evsite_src} ${evsite_w} 4
    setexpr evsite_p ${evsite_src} + 5
    cp.b ${evsite_p} ${evsite_w4} @DATA_SIZE@
    if env import -c ${evsite_w} @CRC_DATA_SIZE@ ${evsite_vars}; then setenv evsite_loaded ${n}; fi
  fi
done
if test "${evsite_loaded}" = "0"; then
  echo "evsite: no valid boot environment, using defaults"
  setenv evsite_flag 0
  setenv evsite_save 1
else
  echo "evsite: boot environment copy ${evsite_loaded} loaded"
  if test "${evsite_loaded}" = "1"; then
    setexpr.b evsite_flag *${evsite_f1}
    setenv evsite_save 2
  else
    setexpr.b evsite_flag *${evsite_f2}
    setenv evsite_save 1
  fi
fi
if test -z "${BOOT_ORDER}"; then setenv BOOT_ORDER "A B"; fi
if test -z "${BOOT_A_LEFT}"; then setenv BOOT_A_LEFT 3; fi
if test -z "${BOOT_B_LEFT}"; then setenv BOOT_B_LEFT 3; fi
# Only A and B count; an order naming neither falls back to the default.
setenv evsite_order
for slot in ${BOOT_ORDER}; do
  if test "${slot}" = "A" || test "${slot}" = "B"; then setenv evsite_order "${evsite_order} ${slot}"; fi
done
if test -z "${evsite_order}"; then
  setenv BOOT_ORDER "A B"
  setenv evsite_order "A B"
fi

setenv BOOT_SLOT
for pass in 1 2; do
  if test -z "${BOOT_SLOT}"; then
    if test "${pass}" = "2"; then
      echo "evsite: no slot has tries left, resetting the counters"
      setenv BOOT_A_LEFT 3
      setenv BOOT_B_LEFT 3
    fi
    for slot in ${evsite_order}; do
      if test -z "${BOOT_SLOT}"; then
        if test "${slot}" = "A"; then
          if test ${BOOT_A_LEFT} -gt 0; then
            setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
            setenv BOOT_SLOT A
          fi
        elif test "${slot}" = "B"; then
          if test ${BOOT_B_LEFT} -gt 0; then
            setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
            setenv BOOT_SLOT B
          fi
        fi
      fi
    done
  fi
done
if test -z "${BOOT_SLOT}"; then
  echo "evsite: BOOT_ORDER '${BOOT_ORDER}' names no slot, using A"
  setenv BOOT_ORDER "A B"
  setenv BOOT_SLOT A
fi

# Save before booting: a kernel that hangs or panics has used up its try. The new copy
# goes over the older one, with flags one up.
setexpr evsite_flag ${evsite_flag} + 1
setexpr evsite_flag ${evsite_flag} "&" 0xff
env export -c -s @CRC_DATA_SIZE@ ${evsite_w} ${evsite_vars}
cp.b ${evsite_w} ${evsite_e1} 4
mw.b ${evsite_f1} ${evsite_flag}
setexpr evsite_p ${evsite_e1} + 5
cp.b ${evsite_w4} ${evsite_p} @DATA_SIZE@
fatwrite ${devtype} ${devnum}:1 ${evsite_e1} bootchooser${evsite_save}.env @ENV_SIZE@

if test "${BOOT_SLOT}" = "A"; then
  setenv evsite_bootpart 2
  setenv evsite_rootpart 4
else
  setenv evsite_bootpart 3
  setenv evsite_rootpart 5
fi
echo "evsite: booting slot ${BOOT_SLOT} (A left ${BOOT_A_LEFT}, B left ${BOOT_B_LEFT})"

part uuid ${devtype} ${devnum}:${evsite_rootpart} evsite_rootuuid
setenv bootargs "root=PARTUUID=${evsite_rootuuid} rootfstype=squashfs ro rootwait evsite.slot=${BOOT_SLOT} panic=10 @EXTRA_BOOTARGS@"
if test -n "${MACHINE_ID}"; then setenv bootargs "${bootargs} systemd.machine_id=${MACHINE_ID}"; fi

# The initramfs goes well above the kernel, whose Image is ~40 MiB once relocated.
setexpr evsite_rd_addr ${kernel_addr_r} + 0x6000000
if load ${devtype} ${devnum}:${evsite_bootpart} ${kernel_addr_r} Image; then
  if load ${devtype} ${devnum}:${evsite_bootpart} ${evsite_rd_addr} initrd.img; then
    booti ${kernel_addr_r} ${evsite_rd_addr}:${filesize} ${fdt_addr}
  fi
fi
# The slot could not be loaded or started: its try is spent, the next reset chooses again.
echo "evsite: slot ${BOOT_SLOT} failed to boot, resetting"
reset
