"""Badge CSV import and export: a header line, then id_tag,name,group,vip,blocked."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from evsite.web.facade import Badge
from evsite.web.validate import valid_group, valid_id_tag

HEADER = ["id_tag", "name", "group", "vip", "blocked"]
MAX_ROWS = 20_000
_TRUE = {"1", "true", "yes", "y", "x"}
_FALSE = {"", "0", "false", "no", "n"}


def _flag(text: str, what: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{what} must be yes/no, true/false or 1/0, got {text!r}")


def parse_badge_csv(text: str) -> tuple[list[Badge], list[str]]:
    """Parse a CSV text; return the badges and one error per bad line (import none if any)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        return [], ["the file is empty"]
    header = [h.strip().lower() for h in rows[0]]
    if header[:1] != ["id_tag"] or any(h not in HEADER for h in header):
        return [], [
            f"line 1: the header must name columns from {', '.join(HEADER)}, starting with id_tag"
        ]
    if len(rows) - 1 > MAX_ROWS:
        return [], [f"too many lines: at most {MAX_ROWS} badges per import"]
    badges: list[Badge] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            errors.append(f"line {number}: {len(row)} fields, the header has {len(header)}")
            continue
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        try:
            id_tag = valid_id_tag(cells.get("id_tag", ""))
            if id_tag in seen:
                raise ValueError(f"badge {id_tag} appears twice")
            group = cells.get("group", "")
            badges.append(
                Badge(
                    id_tag=id_tag,
                    name=cells.get("name", "")[:80],
                    group=valid_group(group) if group else "",
                    vip=_flag(cells.get("vip", ""), "vip"),
                    blocked=_flag(cells.get("blocked", ""), "blocked"),
                )
            )
            seen.add(id_tag)
        except ValueError as exc:
            errors.append(f"line {number}: {exc}")
    return badges, errors


def badge_csv_lines(badges: Iterable[Badge]) -> Iterable[str]:
    """The export, header first; formula-looking names are quoted so spreadsheets show text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for b in badges:
        writer.writerow(
            [
                b.id_tag,
                _no_formula(b.name),
                b.group,
                "yes" if b.vip else "no",
                "yes" if b.blocked else "no",
            ]
        )
    yield out.getvalue()


def _no_formula(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def badge_errors_summary(errors: Sequence[str], limit: int = 50) -> list[str]:
    """At most `limit` errors, with a note of how many more there were."""
    shown = list(errors[:limit])
    if len(errors) > limit:
        shown.append(f"... and {len(errors) - limit} more")
    return shown
