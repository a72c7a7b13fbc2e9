"""Image tests: the built OS image, inspected and booted under QEMU."""
