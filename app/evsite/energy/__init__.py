"""Load management: pure allocation and the control loop."""
