"""Carlo Gavazzi EM24 DIN: int32 with the least significant word first, fixed decimals."""

from __future__ import annotations

from evsite.modbus.registers import DataType, Function, Quantity, RegisterMap, RegisterRow


def _i(quantity: Quantity, address: int, unit: str, scale: float, native: str) -> RegisterRow:
    return RegisterRow(
        quantity, address, Function.HOLDING, DataType.INT32, "little", scale, unit, native
    )


Q = Quantity
MAP = RegisterMap(
    family="em24",
    title="Carlo Gavazzi EM24 DIN",
    source=(
        "Carlo Gavazzi EM24 DIN communication protocol (EM24-DIN Modbus), function 03 "
        "(04 answers the same), INT32 with LSW first; V and W ×10, A ×1000, kWh ×10"
    ),
    rows=(
        _i(Q.VOLTAGE_L1, 0x0000, "V", 0.1, "V×10"),
        _i(Q.VOLTAGE_L2, 0x0002, "V", 0.1, "V×10"),
        _i(Q.VOLTAGE_L3, 0x0004, "V", 0.1, "V×10"),
        _i(Q.CURRENT_L1, 0x000C, "A", 0.001, "A×1000"),
        _i(Q.CURRENT_L2, 0x000E, "A", 0.001, "A×1000"),
        _i(Q.CURRENT_L3, 0x0010, "A", 0.001, "A×1000"),
        _i(Q.POWER_L1, 0x0012, "W", 0.1, "W×10"),
        _i(Q.POWER_L2, 0x0014, "W", 0.1, "W×10"),
        _i(Q.POWER_L3, 0x0016, "W", 0.1, "W×10"),
        _i(Q.POWER_TOTAL, 0x0028, "W", 0.1, "W×10"),
        _i(Q.ENERGY_IMPORT, 0x0034, "Wh", 100.0, "kWh×10"),
    ),
    # 0x0006..0x0033 are L-L voltages, VA, var, system values, PF, phase
    # sequence and Hz: all defined, so 0x0000..0x0035 is one 54-register read.
    max_gap=0x11,
)
