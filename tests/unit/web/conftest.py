"""Fixtures for the web layer's unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.web.support import Site, WsgiClient, client, log_in, make_site, set_up_admin


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A fresh web layer (not serving) over a fake site."""
    s = make_site(tmp_path)
    yield s
    s.db.close()


@pytest.fixture
def admin(site: Site) -> WsgiClient:
    """A client logged in as the first admin."""
    c = client(site)
    set_up_admin(site, c)
    reply = log_in(c)
    assert reply.status == 303
    return c
