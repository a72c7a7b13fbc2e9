"""The factory-reset button on a GPIO: a short press or a long hold, through gpiozero.

The button connects the pin to ground; the internal pull-up holds it high. A press
shorter than the hold time is a short press (the setup window); holding it for the
hold time is a factory reset, which fires while the button is still down, once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gpiozero import Button

log = logging.getLogger("evsite.platform")

# Revision code of a Compute Module 4 (type 0x14). gpiozero needs a board revision to
# name the pins; the Debian kernel does not always expose one, and the pins of the
# main GPIO bank are the same on every Pi 4 family board.
CM4_REVISION = 0xA03140
DEBOUNCE_S = 0.05


def device_pin_factory(chip: int) -> Any:
    """gpiozero's lgpio pin factory on /dev/gpiochip<chip> (the Linux GPIO character device)."""
    from gpiozero.exc import PinUnknownPi
    from gpiozero.pins.lgpio import LGPIOFactory

    class BoardFactory(LGPIOFactory):  # type: ignore[misc]
        """lgpio pins, with the CM4's pin names when the kernel tells no revision."""

        def _get_revision(self) -> int:
            try:
                return int(super()._get_revision())
            except PinUnknownPi:
                return CM4_REVISION

    return BoardFactory(chip=chip)


class ResetButton:
    """Calls on_short_press after a short press and on_hold once the button is held long."""

    def __init__(
        self,
        pin: int,
        hold_s: float,
        on_short_press: Callable[[], None],
        on_hold: Callable[[], None],
        pin_factory: Any = None,
    ) -> None:
        self._on_short_press = on_short_press
        self._on_hold = on_hold
        self._lock = threading.Lock()
        self._held = False
        self._button = Button(
            pin,
            pull_up=True,
            bounce_time=DEBOUNCE_S,
            hold_time=hold_s,
            hold_repeat=False,
            pin_factory=pin_factory,
        )
        self._button.when_pressed = self._pressed
        self._button.when_held = self._held_long
        self._button.when_released = self._released

    def _pressed(self) -> None:
        with self._lock:
            self._held = False

    def _held_long(self) -> None:
        with self._lock:
            self._held = True
        self._safely(self._on_hold, "hold")

    def _released(self) -> None:
        with self._lock:
            held = self._held
        if not held:
            self._safely(self._on_short_press, "short press")

    @staticmethod
    def _safely(action: Callable[[], None], what: str) -> None:
        # gpiozero calls from its own thread: an exception there would be lost.
        try:
            action()
        except Exception:
            log.exception("reset button: the %s action failed", what)

    def close(self) -> None:
        """Release the pin."""
        self._button.close()
