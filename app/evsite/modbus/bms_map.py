"""The BMS register map as data: the server encodes from it, the document is made from it."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pymodbus.client.mixin import ModbusClientMixin

from evsite.modbus.registers import DataType, encode

MAP_VERSION = 1
STATION_BASE = 1000
STATION_STRIDE = 32
SETPOINT_ADDRESS = 100
STATION_ID_CHARS = 20

#: Encoded "not available" for a value the controller does not have.
NOT_AVAILABLE = "all ones (unsigned) or 0x7FFF… (signed)"


class StationStateCode(enum.IntEnum):
    """Station state codes served to the BMS (OCPP 1.6 status names, plus offline)."""

    UNKNOWN = 0
    AVAILABLE = 1
    PREPARING = 2
    CHARGING = 3
    SUSPENDED_EV = 4
    SUSPENDED_EVSE = 5
    FINISHING = 6
    RESERVED = 7
    UNAVAILABLE = 8
    FAULTED = 9
    OFFLINE = 10


_OCPP_STATUS = {
    "Available": StationStateCode.AVAILABLE,
    "Preparing": StationStateCode.PREPARING,
    "Charging": StationStateCode.CHARGING,
    "SuspendedEV": StationStateCode.SUSPENDED_EV,
    "SuspendedEVSE": StationStateCode.SUSPENDED_EVSE,
    "Finishing": StationStateCode.FINISHING,
    "Reserved": StationStateCode.RESERVED,
    "Unavailable": StationStateCode.UNAVAILABLE,
    "Faulted": StationStateCode.FAULTED,
    "Offline": StationStateCode.OFFLINE,
}


def state_code(status: str) -> StationStateCode:
    """Map an OCPP 1.6 connector status (or 'Offline') to its code; anything else is UNKNOWN."""
    return _OCPP_STATUS.get(status, StationStateCode.UNKNOWN)


@dataclass(frozen=True)
class BmsRow:
    """One register (or register group) the BMS can read or write."""

    key: str
    address: int
    dtype: DataType | None
    scale: float
    unit: str
    access: Literal["R", "RW"]
    description: str
    chars: int = 0

    @property
    def width(self) -> int:
        """Registers the row occupies."""
        return (self.chars + 1) // 2 if self.dtype is None else self.dtype.width

    @property
    def type_label(self) -> str:
        """Type as written in the document."""
        return f"string[{self.chars}]" if self.dtype is None else self.dtype.label


U16, I16, I32, U32 = DataType.UINT16, DataType.INT16, DataType.INT32, DataType.UINT32

SITE_ROWS: tuple[BmsRow, ...] = (
    BmsRow("map_version", 0, U16, 1, "", "R", f"Register map version ({MAP_VERSION})"),
    BmsRow("station_slots", 1, U16, 1, "", "R", "Number of station blocks served"),
    BmsRow("station_base", 2, U16, 1, "", "R", f"Address of station block 0 ({STATION_BASE})"),
    BmsRow("station_stride", 3, U16, 1, "", "R", f"Registers per station block ({STATION_STRIDE})"),
    BmsRow("stations_present", 4, U16, 1, "", "R", "Station blocks in use"),
    BmsRow("site_power_w", 10, I32, 1, "W", "R", "Site active power at the grid meter (+ import)"),
    BmsRow("site_current_l1_a", 12, I16, 0.1, "A", "R", "Site current L1"),
    BmsRow("site_current_l2_a", 13, I16, 0.1, "A", "R", "Site current L2"),
    BmsRow("site_current_l3_a", 14, I16, 0.1, "A", "R", "Site current L3"),
    BmsRow("site_voltage_l1_v", 15, U16, 0.1, "V", "R", "Voltage L1-N"),
    BmsRow("site_voltage_l2_v", 16, U16, 0.1, "V", "R", "Voltage L2-N"),
    BmsRow("site_voltage_l3_v", 17, U16, 0.1, "V", "R", "Voltage L3-N"),
    BmsRow("meter_age_s", 18, U16, 1, "s", "R", "Age of the last good meter reading"),
    BmsRow("site_limit_a", 19, U16, 0.1, "A", "R", "Site limit per phase in force now"),
)

CONTROL_ROWS: tuple[BmsRow, ...] = (
    BmsRow(
        "setpoint_a",
        SETPOINT_ADDRESS,
        U16,
        0.1,
        "A",
        "RW",
        "Site limit per phase requested by the BMS; must be rewritten within the watchdog time",
    ),
    BmsRow(
        "watchdog_s", 101, U16, 1, "s", "R", "Watchdog time: a setpoint older than this is dropped"
    ),
    BmsRow(
        "setpoint_active",
        102,
        U16,
        1,
        "",
        "R",
        "1 while the BMS setpoint applies, 0 when the fallback applies",
    ),
    BmsRow(
        "effective_setpoint_a",
        103,
        U16,
        0.1,
        "A",
        "R",
        "BMS-side limit in force (setpoint or fallback)",
    ),
    BmsRow("setpoint_remaining_s", 104, U16, 1, "s", "R", "Seconds until the setpoint expires"),
)

#: Offsets inside one station block (block i starts at STATION_BASE + i × STATION_STRIDE).
STATION_ROWS: tuple[BmsRow, ...] = (
    BmsRow("present", 0, U16, 1, "", "R", "1 when this block holds a station"),
    BmsRow("state", 1, U16, 1, "", "R", "Station state code (table below)"),
    BmsRow("limit_a", 2, U16, 0.1, "A", "R", "Current limit per phase sent to the station"),
    BmsRow("current_l1_a", 3, I16, 0.1, "A", "R", "Station current L1"),
    BmsRow("current_l2_a", 4, I16, 0.1, "A", "R", "Station current L2"),
    BmsRow("current_l3_a", 5, I16, 0.1, "A", "R", "Station current L3"),
    BmsRow("power_w", 6, I32, 1, "W", "R", "Station active power"),
    BmsRow(
        "session_energy_wh", 8, U32, 1, "Wh", "R", "Energy of the running session (0 when idle)"
    ),
    BmsRow(
        "station_id",
        10,
        None,
        1,
        "",
        "R",
        "Station identity (ASCII, NUL padded, first characters)",
        chars=STATION_ID_CHARS,
    ),
)


def station_address(index: int, row: BmsRow) -> int:
    """Absolute address of a station-block row."""
    return STATION_BASE + index * STATION_STRIDE + row.address


def encode_bms_row(row: BmsRow, value: float | str | None) -> list[int]:
    """Encode a value for a row; None or a non-finite number becomes the not-available sentinel."""
    if row.dtype is None:
        text = (value if isinstance(value, str) else "").encode("ascii", "replace")[: row.chars]
        text = text.ljust(row.width * 2, b"\x00")
        return ModbusClientMixin.convert_to_registers(
            text.decode("ascii"), ModbusClientMixin.DATATYPE.STRING
        )
    if value is None or isinstance(value, str) or not math.isfinite(value):
        return encode(row.dtype, "big", 1.0, math.nan)
    return encode(row.dtype, "big", row.scale, value)


def fill(
    image: list[int],
    base: int,
    rows: Sequence[BmsRow],
    values: Mapping[str, float | str | None],
    offset: int = 0,
) -> None:
    """Write each row's encoded value into a register image that starts at address `base`."""
    for row in rows:
        at = offset + row.address - base
        image[at : at + row.width] = encode_bms_row(row, values.get(row.key))
