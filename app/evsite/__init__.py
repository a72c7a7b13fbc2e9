"""evsite: EV charging site controller."""

__version__ = "0.1.0"
