"""A real SQLite store with the uplink's tables, and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evsite.clock import FakeClock
from evsite.store.db import Database, open_database
from evsite.uplink.schema import UPLINK_MIGRATIONS


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path, extra={"uplink": UPLINK_MIGRATIONS})
    yield database
    database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
