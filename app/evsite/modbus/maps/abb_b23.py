"""ABB B23/B24: holding registers, unsigned/signed integers with fixed decimals, big-endian."""

from __future__ import annotations

from evsite.modbus.registers import DataType, Function, Quantity, RegisterMap, RegisterRow


def _r(
    quantity: Quantity, address: int, dtype: DataType, unit: str, scale: float, native: str
) -> RegisterRow:
    return RegisterRow(quantity, address, Function.HOLDING, dtype, "big", scale, unit, native)


Q = Quantity
U32, S32, U64 = DataType.UINT32, DataType.INT32, DataType.UINT64
MAP = RegisterMap(
    family="abb_b23",
    title="ABB B23/B24",
    source=(
        "ABB B-series (B21/B23/B24) user manual 2CMC485003M0201, Modbus mapping tables; "
        "function 03, big-endian; 0x5000 energy in 0.01 kWh, 0x5B00 instantaneous values"
    ),
    rows=(
        _r(Q.ENERGY_IMPORT, 0x5000, U64, "Wh", 10.0, "kWh×100"),
        _r(Q.VOLTAGE_L1, 0x5B00, U32, "V", 0.1, "V×10"),
        _r(Q.VOLTAGE_L2, 0x5B02, U32, "V", 0.1, "V×10"),
        _r(Q.VOLTAGE_L3, 0x5B04, U32, "V", 0.1, "V×10"),
        _r(Q.CURRENT_L1, 0x5B0C, U32, "A", 0.01, "A×100"),
        _r(Q.CURRENT_L2, 0x5B0E, U32, "A", 0.01, "A×100"),
        _r(Q.CURRENT_L3, 0x5B10, U32, "A", 0.01, "A×100"),
        _r(Q.POWER_TOTAL, 0x5B14, S32, "W", 0.01, "W×100"),
        _r(Q.POWER_L1, 0x5B16, S32, "W", 0.01, "W×100"),
        _r(Q.POWER_L2, 0x5B18, S32, "W", 0.01, "W×100"),
        _r(Q.POWER_L3, 0x5B1A, S32, "W", 0.01, "W×100"),
    ),
    # 0x5B06..0x5B0B are line-to-line voltages, 0x5B12 neutral current: defined.
    max_gap=6,
    # The B2x manual: a value that is not available reads as all ones (unsigned)
    # or max positive (signed).
    sentinels=True,
)
