"""Load management: the pure allocation of current to stations, and ramping of the limits sent.

Nothing here does I/O or reads a clock: the control loop (elsewhere) builds a
CircuitTree from the configuration once, then on every meter reading calls
allocate() with live sessions and `now`, and next_command() per station.
"""

from evsite.energy.allocate import AllocationResult, StationLimit, allocate
from evsite.energy.layout import parse_energy
from evsite.energy.model import (
    CircuitTree,
    Node,
    Phase,
    PhaseAmps,
    Readings,
    Session,
    StationSpec,
    uniform,
)
from evsite.energy.ramp import next_command
from evsite.energy.settings import Mode, Settings
from evsite.energy.state import AllocationState, SessionMemory

__all__ = [
    "AllocationResult",
    "AllocationState",
    "CircuitTree",
    "Mode",
    "Node",
    "Phase",
    "PhaseAmps",
    "Readings",
    "Session",
    "SessionMemory",
    "Settings",
    "StationLimit",
    "StationSpec",
    "allocate",
    "next_command",
    "parse_energy",
    "uniform",
]
