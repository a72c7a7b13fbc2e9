"""Schneider Electric iEM3155 (iEM3100/3200 series): holding registers, float32 and int64."""

from __future__ import annotations

from evsite.modbus.registers import DataType, Function, Quantity, RegisterMap, RegisterRow


def _f(
    quantity: Quantity, register: int, unit: str, scale: float = 1.0, native: str = ""
) -> RegisterRow:
    # The manual numbers registers from 1; the PDU address is one less.
    return RegisterRow(
        quantity,
        register - 1,
        Function.HOLDING,
        DataType.FLOAT32,
        "big",
        scale,
        unit,
        native or unit,
    )


Q = Quantity
MAP = RegisterMap(
    family="iem3155",
    title="Schneider Electric iEM3155",
    source=(
        "Schneider Electric iEM3100/iEM3200 series user manual (DOCA0005EN), "
        "Modbus register list; registers numbered from 1, read with function 03, "
        "most significant word first"
    ),
    rows=(
        _f(Q.CURRENT_L1, 3000, "A"),
        _f(Q.CURRENT_L2, 3002, "A"),
        _f(Q.CURRENT_L3, 3004, "A"),
        _f(Q.VOLTAGE_L1, 3028, "V"),
        _f(Q.VOLTAGE_L2, 3030, "V"),
        _f(Q.VOLTAGE_L3, 3032, "V"),
        _f(Q.POWER_L1, 3054, "W", 1000.0, "kW"),
        _f(Q.POWER_L2, 3056, "W", 1000.0, "kW"),
        _f(Q.POWER_L3, 3058, "W", 1000.0, "kW"),
        _f(Q.POWER_TOTAL, 3060, "W", 1000.0, "kW"),
        RegisterRow(
            Q.ENERGY_IMPORT, 3204 - 1, Function.HOLDING, DataType.INT64, "big", 1.0, "Wh", "Wh"
        ),
    ),
    # 3006..3053 hold averages, line-to-line voltages and unbalance values; one
    # read of 2999..3060 (62 registers) covers currents, voltages and powers.
    max_gap=24,
)
