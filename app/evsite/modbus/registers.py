"""Register tables as data: row types, generic decoding/encoding, and read planning."""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pymodbus.client.mixin import ModbusClientMixin

WordOrder = Literal["big", "little"]

#: The Modbus limit for one read of holding/input registers (function 3 and 4).
MAX_READ_REGISTERS = 125

_PM = ModbusClientMixin.DATATYPE


class Function(enum.IntEnum):
    """Which Modbus read function a register is read with."""

    HOLDING = 3
    INPUT = 4


class DataType(enum.Enum):
    """Register data types, with their width in registers and integer range."""

    INT16 = ("int16", 1, True)
    UINT16 = ("uint16", 1, False)
    INT32 = ("int32", 2, True)
    UINT32 = ("uint32", 2, False)
    INT64 = ("int64", 4, True)
    UINT64 = ("uint64", 4, False)
    FLOAT32 = ("float32", 2, True)

    @property
    def label(self) -> str:
        """The name used in documents and CSV files."""
        return self.value[0]

    @property
    def width(self) -> int:
        """Number of 16-bit registers the value occupies."""
        return int(self.value[1])

    @property
    def is_float(self) -> bool:
        """True for IEEE 754 types."""
        return self is DataType.FLOAT32

    @property
    def int_range(self) -> tuple[int, int]:
        """Smallest and largest raw integer the type holds."""
        bits = 16 * self.width
        if self.value[2]:
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1

    def sentinel(self) -> int:
        """The 'not available' raw value some meters use: all ones, or max positive if signed."""
        return self.int_range[1]


_TO_PYMODBUS = {
    DataType.INT16: _PM.INT16,
    DataType.UINT16: _PM.UINT16,
    DataType.INT32: _PM.INT32,
    DataType.UINT32: _PM.UINT32,
    DataType.INT64: _PM.INT64,
    DataType.UINT64: _PM.UINT64,
    DataType.FLOAT32: _PM.FLOAT32,
}


class Quantity(enum.Enum):
    """The measured quantities a meter map may provide."""

    VOLTAGE_L1 = "voltage_l1"
    VOLTAGE_L2 = "voltage_l2"
    VOLTAGE_L3 = "voltage_l3"
    CURRENT_L1 = "current_l1"
    CURRENT_L2 = "current_l2"
    CURRENT_L3 = "current_l3"
    POWER_L1 = "power_l1"
    POWER_L2 = "power_l2"
    POWER_L3 = "power_l3"
    POWER_TOTAL = "power_total"
    ENERGY_IMPORT = "energy_import"


@dataclass(frozen=True)
class RegisterRow:
    """One value in a register table: where it is, how it is encoded, what it means."""

    quantity: Quantity
    address: int
    function: Function
    dtype: DataType
    word_order: WordOrder
    scale: float
    unit: str
    native: str = ""

    @property
    def end(self) -> int:
        """First address after this value."""
        return self.address + self.dtype.width


@dataclass(frozen=True)
class RegisterMap:
    """A meter family's register table and the facts about how to read it."""

    family: str
    title: str
    source: str
    rows: tuple[RegisterRow, ...]
    #: Registers between two rows that may be read through in one request; the
    #: device answers for them (reserved or unused values), so one larger read
    #: replaces several small ones.
    max_gap: int = 0
    #: True when the device signals "not available" with all-ones (unsigned) or
    #: max-positive (signed) raw values; these decode to NaN.
    sentinels: bool = False

    def row(self, quantity: Quantity) -> RegisterRow | None:
        """The row for a quantity, or None when the map lacks it."""
        for r in self.rows:
            if r.quantity is quantity:
                return r
        return None


@dataclass(frozen=True)
class ReadBlock:
    """One read request: a contiguous register span and the rows it covers."""

    function: Function
    address: int
    count: int
    rows: tuple[RegisterRow, ...]


def decode(
    dtype: DataType,
    word_order: WordOrder,
    scale: float,
    registers: Sequence[int],
    *,
    sentinels: bool = False,
) -> float:
    """Turn raw registers into a scaled float; 'not available' sentinels become NaN."""
    if len(registers) != dtype.width:
        raise ValueError(f"{dtype.label} needs {dtype.width} registers, got {len(registers)}")
    raw = ModbusClientMixin.convert_from_registers(list(registers), _TO_PYMODBUS[dtype], word_order)
    if not isinstance(raw, int | float):
        raise TypeError(f"unexpected decoded value {raw!r}")
    if sentinels and not dtype.is_float and raw == dtype.sentinel():
        return math.nan
    return float(raw) * scale


def encode(dtype: DataType, word_order: WordOrder, scale: float, value: float) -> list[int]:
    """Turn a physical value into raw registers; integers are rounded and clamped to the type."""
    if dtype.is_float:
        raw: int | float = value / scale if math.isfinite(value) else value
    else:
        if not math.isfinite(value):
            raw = dtype.sentinel()
        else:
            low, high = dtype.int_range
            raw = max(low, min(high, round(value / scale)))
    return ModbusClientMixin.convert_to_registers(raw, _TO_PYMODBUS[dtype], word_order)


def decode_row(row: RegisterRow, registers: Sequence[int], *, sentinels: bool = False) -> float:
    """Decode one table row from its registers."""
    return decode(row.dtype, row.word_order, row.scale, registers, sentinels=sentinels)


def encode_row(row: RegisterRow, value: float) -> list[int]:
    """Encode a physical value for one table row."""
    return encode(row.dtype, row.word_order, row.scale, value)


def plan_reads(
    rows: Iterable[RegisterRow], *, max_gap: int = 0, max_count: int = MAX_READ_REGISTERS
) -> list[ReadBlock]:
    """Group rows into as few contiguous reads as the gap and size limits allow."""
    all_rows = list(rows)
    blocks: list[ReadBlock] = []
    for function in Function:
        selected = sorted((r for r in all_rows if r.function is function), key=lambda r: r.address)
        current: list[RegisterRow] = []
        for row in selected:
            if current:
                start = current[0].address
                end = max(r.end for r in current)
                if row.address - end <= max_gap and row.end - start <= max_count:
                    current.append(row)
                    continue
                blocks.append(_block(function, current))
            current = [row]
        if current:
            blocks.append(_block(function, current))
    return blocks


def _block(function: Function, rows: list[RegisterRow]) -> ReadBlock:
    start = rows[0].address
    end = max(r.end for r in rows)
    return ReadBlock(function, start, end - start, tuple(rows))


def decode_block(
    block: ReadBlock, registers: Sequence[int], *, sentinels: bool = False
) -> dict[Quantity, float]:
    """Decode every row of a read block from the registers it returned."""
    if len(registers) != block.count:
        raise ValueError(
            f"expected {block.count} registers at {block.address}, got {len(registers)}"
        )
    out: dict[Quantity, float] = {}
    for row in block.rows:
        offset = row.address - block.address
        out[row.quantity] = decode_row(
            row, registers[offset : offset + row.dtype.width], sentinels=sentinels
        )
    return out


def check_map(regmap: RegisterMap) -> None:
    """Reject a malformed table: overlapping rows, duplicate quantities, bad addresses."""
    seen: set[Quantity] = set()
    for row in regmap.rows:
        if row.quantity in seen:
            raise ValueError(f"{regmap.family}: {row.quantity.value} appears twice")
        seen.add(row.quantity)
        if not 0 <= row.address <= 0xFFFF - row.dtype.width + 1:
            raise ValueError(
                f"{regmap.family}: {row.quantity.value} address {row.address} out of range"
            )
        if row.scale == 0:
            raise ValueError(f"{regmap.family}: {row.quantity.value} has scale 0")
    by_fn: dict[Function, list[RegisterRow]] = {}
    for row in regmap.rows:
        by_fn.setdefault(row.function, []).append(row)
    for fn_rows in by_fn.values():
        fn_rows.sort(key=lambda r: r.address)
        for a, b in itertools.pairwise(fn_rows):
            if b.address < a.end:
                raise ValueError(f"{regmap.family}: {a.quantity.value} overlaps {b.quantity.value}")


def values_by_quantity(decoded: Iterable[Mapping[Quantity, float]]) -> dict[Quantity, float]:
    """Merge per-block decodes into one mapping."""
    out: dict[Quantity, float] = {}
    for part in decoded:
        out.update(part)
    return out
