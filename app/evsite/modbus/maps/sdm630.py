"""Eastron SDM630 (Modbus V2): input registers, float32, high word first."""

from __future__ import annotations

from evsite.modbus.registers import DataType, Function, Quantity, RegisterMap, RegisterRow


def _f(
    quantity: Quantity, address: int, unit: str, scale: float = 1.0, native: str = ""
) -> RegisterRow:
    return RegisterRow(
        quantity, address, Function.INPUT, DataType.FLOAT32, "big", scale, unit, native or unit
    )


Q = Quantity
MAP = RegisterMap(
    family="sdm630",
    title="Eastron SDM630 Modbus V2",
    source=(
        "Eastron SDM630 Modbus Protocol V1.5 / SDM630MCT-Modbus V2, input registers "
        "30001.. (3X), function 04, IEEE 754 float32, high word first"
    ),
    rows=(
        _f(Q.VOLTAGE_L1, 0x0000, "V"),
        _f(Q.VOLTAGE_L2, 0x0002, "V"),
        _f(Q.VOLTAGE_L3, 0x0004, "V"),
        _f(Q.CURRENT_L1, 0x0006, "A"),
        _f(Q.CURRENT_L2, 0x0008, "A"),
        _f(Q.CURRENT_L3, 0x000A, "A"),
        _f(Q.POWER_L1, 0x000C, "W"),
        _f(Q.POWER_L2, 0x000E, "W"),
        _f(Q.POWER_L3, 0x0010, "W"),
        _f(Q.POWER_TOTAL, 0x0034, "W"),
        _f(Q.ENERGY_IMPORT, 0x0048, "Wh", 1000.0, "kWh"),
    ),
    # 0x0012..0x0047 are all defined measurement registers (VA, var, PF, angles,
    # sums), so one read of 0x0000..0x0049 (74 registers) covers the table.
    max_gap=0x0034,
)
