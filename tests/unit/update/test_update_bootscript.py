"""The boot script model: try counters, order, defaults, and the no-slot-left reset."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from evsite.update.bootchooser import BootState
from evsite.update.bootscript import run_boot_script, simulated_reboot
from evsite.update.slot import read_booted_slot


def test_first_slot_in_order_with_attempts_boots_and_its_counter_drops() -> None:
    d = run_boot_script({"BOOT_ORDER": "B A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "1"})
    assert d.slot == "B"
    assert d.env == {"BOOT_ORDER": "B A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "0"}
    assert not d.counters_reset


def test_slot_without_attempts_is_skipped() -> None:
    d = run_boot_script({"BOOT_ORDER": "B A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "0"})
    assert (d.slot, d.env["BOOT_A_LEFT"]) == ("A", "2")


def test_slot_missing_from_order_is_never_booted() -> None:
    d = run_boot_script({"BOOT_ORDER": "A", "BOOT_A_LEFT": "1", "BOOT_B_LEFT": "3"})
    assert d.slot == "A"


def test_no_attempts_left_resets_counters_and_follows_the_order() -> None:
    d = run_boot_script({"BOOT_ORDER": "B A", "BOOT_A_LEFT": "0", "BOOT_B_LEFT": "0"})
    assert d.counters_reset
    assert (d.slot, d.env["BOOT_B_LEFT"], d.env["BOOT_A_LEFT"]) == ("B", "2", "3")


def test_empty_environment_tries_every_slot() -> None:
    d = run_boot_script({})
    assert d.slot == "A"
    assert d.env == {"BOOT_ORDER": "A B", "BOOT_A_LEFT": "2", "BOOT_B_LEFT": "3"}


def test_garbage_order_falls_back_to_default_and_garbage_counter_counts_as_zero() -> None:
    assert run_boot_script({"BOOT_ORDER": "C D", "BOOT_A_LEFT": "1"}).slot == "A"
    assert (
        run_boot_script({"BOOT_ORDER": "A B", "BOOT_A_LEFT": "x", "BOOT_B_LEFT": "2"}).slot == "B"
    )


def test_a_committed_slot_survives_two_bad_boots_and_falls_back_on_the_third() -> None:
    env = {"BOOT_ORDER": "B A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "3"}
    slots = []
    for _ in range(4):  # no mark-good ever runs
        d = run_boot_script(env)
        slots.append(d.slot)
        env = d.env
    assert slots == ["B", "B", "B", "A"]


@given(
    st.dictionaries(
        st.sampled_from(["BOOT_ORDER", "BOOT_A_LEFT", "BOOT_B_LEFT"]),
        st.text(alphabet="AB 0123x", max_size=5),
    )
)
def test_script_always_boots_a_slot_and_agrees_with_bootchooser_primary(
    env: dict[str, str],
) -> None:
    d = run_boot_script(env)
    assert d.slot in ("A", "B")
    state = BootState.from_env(env)
    if state.primary() is not None:
        # The bootchooser's idea of "next boot" is exactly what the script does.
        assert d.slot == state.primary()


def test_simulated_reboot_writes_env_and_kernel_cmdline(tmp_path: Path) -> None:
    env, cmdline = tmp_path / "env", tmp_path / "cmdline"
    env.write_text("BOOT_ORDER=B A\nBOOT_A_LEFT=3\nBOOT_B_LEFT=1\n")
    assert simulated_reboot(env, cmdline).slot == "B"
    assert read_booted_slot(cmdline) == "B"
    assert "BOOT_B_LEFT=0" in env.read_text()
