"""The committed BMS register document is the one the table generates."""

from __future__ import annotations

import itertools
from pathlib import Path

from evsite.modbus import bms_doc
from evsite.modbus import bms_map as bm

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_committed_bms_register_doc_matches_the_table() -> None:
    for path, text in bms_doc.outputs(DOCS).items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is out of date: run python -m evsite.modbus.bms_doc docs"
        )


def test_check_mode_reports_a_stale_doc(tmp_path: Path) -> None:
    assert bms_doc.main([str(tmp_path)]) == 0
    assert bms_doc.main(["--check", str(tmp_path)]) == 0
    (tmp_path / bms_doc.MD_NAME).write_text("edited by hand\n", encoding="utf-8")
    assert bms_doc.main(["--check", str(tmp_path)]) == 1


def test_rows_do_not_overlap_and_fit_their_sections() -> None:
    for rows in (bm.SITE_ROWS, bm.CONTROL_ROWS, bm.STATION_ROWS):
        ordered = sorted(rows, key=lambda r: r.address)
        for a, b in itertools.pairwise(ordered):
            assert a.address + a.width <= b.address, (a.key, b.key)
    assert max(r.address + r.width for r in bm.SITE_ROWS) <= bm.SETPOINT_ADDRESS
    assert max(r.address + r.width for r in bm.STATION_ROWS) <= bm.STATION_STRIDE


def test_station_id_is_ascii_nul_padded() -> None:
    row = next(r for r in bm.STATION_ROWS if r.key == "station_id")
    regs = bm.encode_bms_row(row, "CP-1")
    assert len(regs) == 10
    assert regs[:2] == [0x4350, 0x2D31] and regs[2:] == [0] * 8
    assert len(bm.encode_bms_row(row, "X" * 40)) == 10


def test_ocpp_status_maps_to_codes() -> None:
    assert bm.state_code("Charging") is bm.StationStateCode.CHARGING
    assert bm.state_code("nonsense") is bm.StationStateCode.UNKNOWN
