"""The whole app in headless Chromium: `evsite sim` as a process, its dashboard updating live."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

from selenium.webdriver.common.by import By

from tests.e2e.test_app_ui import ADMIN, PASSWORD, SimApp, start_sim

# The web tests' headless Debian Chromium; importing it skips this module when it is missing.
from tests.e2e.web.conftest import browser  # noqa: F401
from tests.e2e.web.test_browser import fill, submit, wait


@pytest.fixture
def app(tmp_path: Path, browser: Any) -> Iterator[SimApp]:  # noqa: F811
    """Two simulated stations behind the real app; the browser starts without cookies."""
    sim = start_sim(tmp_path, 2)
    browser.delete_all_cookies()
    try:
        yield sim
    finally:
        if sim.process.poll() is None:
            sim.process.kill()
            sim.process.wait()


def test_the_dashboard_of_the_running_app_updates_by_itself(
    app: SimApp,
    browser: Any,  # noqa: F811
) -> None:
    browser.get_log("browser")  # forget what earlier tests logged
    base = f"https://127.0.0.1:{app.ui_port}"
    browser.get(f"{base}/")
    wait(browser, lambda b: b.current_url.endswith("/setup"))
    fill(
        browser,
        {"secret": app.secret, "username": ADMIN, "password": PASSWORD, "password2": PASSWORD},
    )
    submit(browser)
    wait(browser, lambda b: "/login" in b.current_url)
    fill(browser, {"username": ADMIN, "password": PASSWORD})
    submit(browser)
    wait(browser, lambda b: b.find_element(By.TAG_NAME, "h1").text == "Dashboard")

    def station_rows(b: Any) -> list[str] | None:
        rows = [r.text for r in b.find_elements(By.CSS_SELECTOR, "#station-table tbody tr")]
        online = [r for r in rows if r.startswith("sim-") and "online" in r]
        return online if len(online) == 2 else None

    rows = wait(browser, station_rows, timeout=30)
    assert rows[0].startswith("sim-001") and rows[1].startswith("sim-002")
    page = browser.find_element(By.TAG_NAME, "html")
    first = wait(
        browser, lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-live-updated")
    )
    wait(
        browser,
        lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-live-updated") != first,
        timeout=20,
    )
    assert browser.find_element(By.TAG_NAME, "html") == page  # polled, not reloaded
    assert browser.find_element(By.ID, "site-limit").text == "80"
    assert browser.find_element(By.ID, "station-count").text == "2"
    # No script or style was blocked by the Content-Security-Policy, and nothing failed.
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    app.stop()
    assert app.process.returncode == 0
