"""The device: button, boot control, slots, ssh, reboot, wipe — real and simulated backends."""
