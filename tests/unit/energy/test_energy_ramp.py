"""next_command(): lower at once, raise slowly, ignore noise."""

from __future__ import annotations

from evsite.energy import Settings, next_command

RAMP = Settings(raise_hold_s=10, raise_step_a=4, dead_band_a=1)


def test_first_command_is_sent_as_is() -> None:
    assert next_command(None, 16, 0, None, RAMP) == 16


def test_lowering_is_sent_at_once_however_small_or_recent() -> None:
    assert next_command(16, 15.8, 100, 99.5, RAMP) == 15.8
    assert next_command(16, 0, 100, 100, RAMP) == 0


def test_raise_below_the_dead_band_is_suppressed() -> None:
    assert next_command(10, 10.6, 100, 0, RAMP) is None


def test_no_change_sends_nothing() -> None:
    assert next_command(10, 10, 100, 0, RAMP) is None
    assert next_command(0, 0, 100, 0, RAMP) is None


def test_raise_waits_for_the_hold_time() -> None:
    assert next_command(10, 20, 105, 100, RAMP) is None
    assert next_command(10, 20, 110, 100, RAMP) == 14


def test_raise_is_ramped_in_steps_up_to_the_target() -> None:
    sent, at, now = 6.0, 0.0, 0.0
    seen = []
    while sent < 16:
        now += 10
        command = next_command(sent, 16, now, at, RAMP)
        if command is not None:
            sent, at = command, now
            seen.append(sent)
    assert seen == [10, 14, 16]


def test_ramp_steps_land_on_allowed_currents() -> None:
    steps = (6, 8, 10, 13, 16)
    assert next_command(6, 16, 100, 0, RAMP, steps) == 10
    assert next_command(10, 16, 100, 0, RAMP, steps) == 13
    assert next_command(13, 16, 100, 0, Settings(raise_step_a=1), steps) == 16


def test_resume_from_pause_goes_straight_to_target() -> None:
    assert next_command(0, 16, 100, 0, RAMP) == 16


def test_without_a_step_the_raise_goes_straight_to_target_after_the_hold() -> None:
    assert next_command(6, 32, 100, 0, Settings(raise_hold_s=10)) == 32
