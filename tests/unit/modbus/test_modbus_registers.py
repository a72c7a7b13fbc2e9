"""Register decoding/encoding from the tables, and read planning."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evsite.modbus.maps import FAMILIES, get_map
from evsite.modbus.registers import (
    MAX_READ_REGISTERS,
    DataType,
    Function,
    Quantity,
    RegisterMap,
    RegisterRow,
    check_map,
    decode,
    decode_block,
    encode,
    encode_row,
    plan_reads,
)

Q = Quantity


def regs_of(family: str, quantity: Quantity, registers: list[int]) -> float:
    regmap = get_map(family)
    row = regmap.row(quantity)
    assert row is not None
    return decode(row.dtype, row.word_order, row.scale, registers, sentinels=regmap.sentinels)


def test_float32_big_and_little_word_order() -> None:
    # 230.0 as IEEE 754 is 0x43660000.
    assert decode(DataType.FLOAT32, "big", 1.0, [0x4366, 0x0000]) == 230.0
    assert decode(DataType.FLOAT32, "little", 1.0, [0x0000, 0x4366]) == 230.0
    assert encode(DataType.FLOAT32, "little", 1.0, 230.0) == [0x0000, 0x4366]


def test_int32_big_and_little_word_order_with_sign() -> None:
    assert decode(DataType.INT32, "big", 0.1, [0xFFFF, 0xCFCC]) == pytest.approx(-1234.0)
    assert decode(DataType.INT32, "little", 0.1, [0xCFCC, 0xFFFF]) == pytest.approx(-1234.0)


def test_sdm630_known_patterns() -> None:
    assert regs_of("sdm630", Q.VOLTAGE_L1, [0x4366, 0x0000]) == 230.0
    assert regs_of("sdm630", Q.CURRENT_L2, [0x4180, 0x0000]) == 16.0
    # 999.0 kWh = 0x4479C000 → Wh.
    assert regs_of("sdm630", Q.ENERGY_IMPORT, [0x4479, 0xC000]) == 999_000.0


def test_iem3155_known_patterns() -> None:
    # Power in kW (1.5 = 0x3FC00000), energy as int64 Wh.
    assert regs_of("iem3155", Q.POWER_TOTAL, [0x3FC0, 0x0000]) == 1500.0
    assert regs_of("iem3155", Q.ENERGY_IMPORT, [0, 0, 0x000F, 0x4240]) == 1_000_000.0
    assert get_map("iem3155").row(Q.CURRENT_L1).address == 2999  # type: ignore[union-attr]


def test_em24_known_patterns_lsw_first() -> None:
    assert regs_of("em24", Q.VOLTAGE_L1, [2305, 0]) == pytest.approx(230.5)
    assert regs_of("em24", Q.CURRENT_L1, [16_000, 0]) == pytest.approx(16.0)
    assert regs_of("em24", Q.POWER_TOTAL, [0xCFCC, 0xFFFF]) == pytest.approx(-1234.0)
    # 70000 × 0.1 kWh = 7000 kWh; 70000 = 0x00011170, LSW first.
    assert regs_of("em24", Q.ENERGY_IMPORT, [0x1170, 0x0001]) == pytest.approx(7_000_000.0)


def test_abb_known_patterns_and_sentinels() -> None:
    assert regs_of("abb_b23", Q.CURRENT_L3, [0, 1234]) == pytest.approx(12.34)
    assert regs_of("abb_b23", Q.ENERGY_IMPORT, [0, 0, 0, 12345]) == pytest.approx(123_450.0)
    assert regs_of("abb_b23", Q.POWER_L1, [0xFFFF, 0xFF9C]) == pytest.approx(-1.0)
    assert math.isnan(regs_of("abb_b23", Q.VOLTAGE_L1, [0xFFFF, 0xFFFF]))
    assert math.isnan(regs_of("abb_b23", Q.POWER_TOTAL, [0x7FFF, 0xFFFF]))


def test_every_family_has_the_quantities_a_meter_needs() -> None:
    for regmap in FAMILIES.values():
        for q in Quantity:
            assert regmap.row(q) is not None, (regmap.family, q)


def test_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="abb_b23, em24, iem3155, sdm630"):
        get_map("sdm120")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_needs_few_reads(family: str) -> None:
    regmap = FAMILIES[family]
    blocks = plan_reads(regmap.rows, max_gap=regmap.max_gap)
    assert len(blocks) <= 2
    covered = {r.quantity for b in blocks for r in b.rows}
    assert covered == {r.quantity for r in regmap.rows}
    assert all(b.count <= MAX_READ_REGISTERS for b in blocks)


def _row(q: Quantity, address: int, fn: Function = Function.HOLDING) -> RegisterRow:
    return RegisterRow(q, address, fn, DataType.FLOAT32, "big", 1.0, "V")


def test_plan_reads_splits_on_gap_function_and_size() -> None:
    rows = [
        _row(Q.VOLTAGE_L1, 0),
        _row(Q.VOLTAGE_L2, 2),
        _row(Q.VOLTAGE_L3, 10),
        _row(Q.CURRENT_L1, 0, Function.INPUT),
        _row(Q.CURRENT_L2, 200),
    ]
    blocks = plan_reads(rows, max_gap=0)
    spans = [(b.function, b.address, b.count) for b in blocks]
    assert spans == [
        (Function.HOLDING, 0, 4),
        (Function.HOLDING, 10, 2),
        (Function.HOLDING, 200, 2),
        (Function.INPUT, 0, 2),
    ]
    assert [(b.address, b.count) for b in plan_reads(rows[:3], max_gap=6)] == [(0, 12)]
    # 125 registers is the limit: 0..125 cannot be one read.
    far = [_row(Q.VOLTAGE_L1, 0), _row(Q.VOLTAGE_L2, 124)]
    assert len(plan_reads(far, max_gap=200)) == 2


def test_decode_block_places_rows_by_offset() -> None:
    rows = [_row(Q.VOLTAGE_L1, 10), _row(Q.VOLTAGE_L2, 14)]
    (block,) = plan_reads(rows, max_gap=2)
    values = decode_block(block, [0x4366, 0, 0xDEAD, 0xBEEF, 0x4180, 0])
    assert values == {Q.VOLTAGE_L1: 230.0, Q.VOLTAGE_L2: 16.0}
    with pytest.raises(ValueError, match="expected 6 registers"):
        decode_block(block, [0, 0])


def test_check_map_rejects_overlap_and_duplicates() -> None:
    overlap = RegisterMap("x", "x", "x", (_row(Q.VOLTAGE_L1, 0), _row(Q.VOLTAGE_L2, 1)))
    with pytest.raises(ValueError, match="overlaps"):
        check_map(overlap)
    twice = RegisterMap("x", "x", "x", (_row(Q.VOLTAGE_L1, 0), _row(Q.VOLTAGE_L1, 4)))
    with pytest.raises(ValueError, match="twice"):
        check_map(twice)


def test_integer_encoding_rounds_and_clamps() -> None:
    assert encode(DataType.UINT16, "big", 0.1, 23.06) == [231]
    assert encode(DataType.UINT16, "big", 1.0, -5.0) == [0]
    assert encode(DataType.INT16, "big", 1.0, 1e9) == [0x7FFF]
    assert encode(DataType.UINT32, "big", 1.0, math.nan) == [0xFFFF, 0xFFFF]


@pytest.mark.parametrize("family", sorted(FAMILIES))
@given(value=st.floats(min_value=0.0, max_value=400.0, allow_nan=False))
def test_encode_then_decode_round_trips_within_resolution(family: str, value: float) -> None:
    for row in FAMILIES[family].rows:
        back = decode(row.dtype, row.word_order, row.scale, encode_row(row, value))
        tolerance = row.scale if not row.dtype.is_float else abs(value) * 1e-6 + 1e-3
        assert abs(back - value) <= tolerance, (row.quantity, value, back)
