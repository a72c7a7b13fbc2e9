"""Generate docs/bms-registers.md and .csv from the BMS register table.

Run `python -m evsite.modbus.bms_doc [DOCS_DIR]` to rewrite them, or with
`--check` to fail when the committed files differ from the table.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from evsite.modbus import bms_map as bm

MD_NAME = "bms-registers.md"
CSV_NAME = "bms-registers.csv"


def _scale(row: bm.BmsRow) -> str:
    return "" if row.dtype is None or row.scale == 1 else f"{row.scale:g}"


def _table(rows: Sequence[bm.BmsRow], address: str) -> list[str]:
    lines = [
        f"| {address} | Name | Type | Scale | Unit | Access | Description |",
        "| ---: | --- | --- | ---: | --- | --- | --- |",
    ]
    for r in rows:
        span = f"{r.address}" if r.width == 1 else f"{r.address}–{r.address + r.width - 1}"
        lines.append(
            f"| {span} | `{r.key}` | {r.type_label} | {_scale(r)} | {r.unit} | {r.access} "
            f"| {r.description} |"
        )
    return lines


def render_markdown() -> str:
    """The register document as markdown."""
    out = [
        "# BMS Modbus TCP register map",
        "",
        "Generated from `evsite.modbus.bms_map` by `python -m evsite.modbus.bms_doc`; do not",
        "edit by hand. A CSV of the same table is `bms-registers.csv`.",
        "",
        "## Conventions",
        "",
        "- Modbus TCP, port 502 by default; the server is **off** unless enabled in the",
        "  `bms` settings. Only client addresses in `bms.allowed` (IPs or CIDRs) are served;",
        "  any other client is disconnected as soon as it connects.",
        "- Any unit id is answered. Addresses are PDU addresses (from 0). Read with",
        "  function 03 (holding registers) or 04 (input registers, same contents); write",
        "  with function 06 or 16.",
        "- Big-endian: high byte first, and for 32-bit values the high word first.",
        "- Value = raw × scale. A value the controller does not have reads as all ones",
        "  (unsigned: 0xFFFF / 0xFFFFFFFF) or the largest positive number (signed: 0x7FFF,",
        "  0x7FFFFFFF).",
        "- Writing a read-only register, or a range that includes one, is answered with",
        "  exception 02 (illegal data address); a setpoint outside the allowed range with",
        "  exception 03 (illegal data value), and nothing changes.",
        "",
        "## Site",
        "",
        *_table(bm.SITE_ROWS, "Address"),
        "",
        "## Site-limit setpoint",
        "",
        "The BMS writes `setpoint_a` (the per-phase site limit it wants, in 0.1 A) and must",
        "write it again before `watchdog_s` seconds have passed. When it stops, the setpoint",
        "is dropped and the configured fallback (`bms.fallback_a`; none when unset) applies.",
        "The tighter of this limit and the site's own limits is what the controller uses.",
        "",
        *_table(bm.CONTROL_ROWS, "Address"),
        "",
        "## Stations",
        "",
        f"Station *i* (from 0) has a block of {bm.STATION_STRIDE} registers at address",
        f"{bm.STATION_BASE} + {bm.STATION_STRIDE} × *i*; the offsets below are inside the",
        "block. The number of blocks is `station_slots`; unused blocks read 0 throughout.",
        "Unlisted offsets in a block are reserved and read 0.",
        "",
        *_table(bm.STATION_ROWS, "Offset"),
        "",
        "### Station state codes",
        "",
        "| Code | State |",
        "| ---: | --- |",
        *[f"| {c.value} | {c.name} |" for c in bm.StationStateCode],
        "",
    ]
    return "\n".join(out)


def render_csv() -> str:
    """The register table as CSV: one line per register row (station rows as offsets)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["section", "address", "name", "type", "scale", "unit", "access", "description"]
    )
    for section, rows in (("site", bm.SITE_ROWS), ("control", bm.CONTROL_ROWS)):
        for r in rows:
            writer.writerow(
                [
                    section,
                    r.address,
                    r.key,
                    r.type_label,
                    _scale(r),
                    r.unit,
                    r.access,
                    r.description,
                ]
            )
    for r in bm.STATION_ROWS:
        address = f"{bm.STATION_BASE}+{bm.STATION_STRIDE}*i+{r.address}"
        writer.writerow(
            ["station", address, r.key, r.type_label, _scale(r), r.unit, r.access, r.description]
        )
    return buf.getvalue()


def outputs(docs: Path) -> dict[Path, str]:
    """Each generated file and its content."""
    return {docs / MD_NAME: render_markdown(), docs / CSV_NAME: render_csv()}


def main(argv: Sequence[str] | None = None) -> int:
    """Write the documents (or with --check, report whether they are current)."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    rest = [a for a in args if a != "--check"]
    docs = Path(rest[0]) if rest else Path("docs")
    stale = []
    for path, text in outputs(docs).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date (run python -m evsite.modbus.bms_doc): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
