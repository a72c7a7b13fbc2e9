"""Pure checks of user input; each returns the parsed value or raises ValueError with why."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_STATION_ID = re.compile(r"^[A-Za-z0-9._:+@-]{1,48}$")  # OCPP identity, usable in a URL path
_ID_TAG = re.compile(r"^[A-Za-z0-9._:-]{1,20}$")  # OCPP 1.6 IdToken: CiString20
_GROUP = re.compile(r"^[A-Za-z0-9 ._-]{1,40}$")


def valid_station_id(text: str) -> str:
    """A station identity: 1 to 48 letters, digits or ._:+@-."""
    if not _STATION_ID.match(text):
        raise ValueError("station id must be 1 to 48 letters, digits or . _ : + @ -")
    return text


def valid_station_key(text: str) -> str:
    """A station key typed by the installer: 16 to 40 printable ASCII characters."""
    if not 16 <= len(text) <= 40 or not all(33 <= ord(c) <= 126 for c in text):
        raise ValueError("key must be 16 to 40 printable characters without spaces")
    return text


def valid_id_tag(text: str) -> str:
    """A badge id (OCPP idTag): 1 to 20 letters, digits or ._:-."""
    if not _ID_TAG.match(text):
        raise ValueError("badge id must be 1 to 20 letters, digits or . _ : -")
    return text


def valid_group(text: str) -> str:
    """A badge group name: 1 to 40 letters, digits, spaces or ._-."""
    if not _GROUP.match(text):
        raise ValueError("group must be 1 to 40 letters, digits, spaces or . _ -")
    return text


def valid_int(text: str, low: int, high: int, what: str) -> int:
    """A whole number in [low, high]."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} must be a whole number") from None
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}")
    return value


def valid_amps(value: object) -> float:
    """A site limit in amperes per phase: a number from 0 to 10000."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("amps must be a number")
    if not 0 <= value <= 10_000:
        raise ValueError("amps must be between 0 and 10000")
    return float(value)


def valid_time(text: str, what: str) -> datetime | None:
    """An ISO date or date-time (UTC when no zone is given); None for ""."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} must be a date like 2026-01-31 or 2026-01-31T08:00") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{what} is out of range") from None
