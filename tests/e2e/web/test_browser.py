"""The UI in a real browser: setup, login, stations, settings, badges, sessions, dashboard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from evsite.web.roles import Role
from tests.unit.web.support import ADMIN, PASSWORD, Site


def url(site: Site, path: str) -> str:
    return f"https://127.0.0.1:{site.web.https.port}{path}"


def wait(browser: Any, condition: Callable[[Any], Any], timeout: float = 15) -> Any:
    # A page may be replaced between finding an element and reading it: just look again.
    return WebDriverWait(
        browser,
        timeout,
        poll_frequency=0.1,
        ignored_exceptions=[StaleElementReferenceException, WebDriverException],
    ).until(condition)


def fill(browser: Any, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = browser.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)


def submit(browser: Any, css: str = "main form button[type=submit]") -> None:
    browser.find_element(By.CSS_SELECTOR, css).click()


def logged_in_admin(site: Site, browser: Any) -> None:
    site.web.context.accounts.add(ADMIN, Role.ADMIN, PASSWORD)
    site.web.context.first_access.mark_done()
    browser.get(url(site, "/login"))
    fill(browser, {"username": ADMIN, "password": PASSWORD})
    submit(browser)
    wait(browser, lambda b: b.find_element(By.TAG_NAME, "h1").text == "Dashboard")


def test_first_access_setup_then_login_and_logout(served: Site, browser: Any) -> None:
    browser.get(url(served, "/"))
    wait(browser, lambda b: b.current_url.endswith("/setup"))
    fill(
        browser,
        {"secret": "wrong-secret", "username": ADMIN, "password": PASSWORD, "password2": PASSWORD},
    )
    submit(browser)
    assert "secret is wrong" in wait(browser, lambda b: b.find_element(By.CLASS_NAME, "error")).text
    fill(
        browser,
        {"secret": served.secret, "username": ADMIN, "password": PASSWORD, "password2": PASSWORD},
    )
    submit(browser)
    wait(browser, lambda b: "/login" in b.current_url)
    assert "administrator account is created" in browser.page_source
    fill(browser, {"username": ADMIN, "password": PASSWORD})
    submit(browser)
    wait(browser, lambda b: b.find_element(By.TAG_NAME, "h1").text == "Dashboard")
    cookie = browser.get_cookie("__Host-evsite")
    assert cookie and cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    browser.find_element(By.CSS_SELECTOR, "header form button").click()
    wait(browser, lambda b: "logged out" in b.page_source)
    browser.get(url(served, "/stations"))
    wait(browser, lambda b: "/login" in b.current_url)


def test_approving_a_pending_station(served: Site, browser: Any) -> None:
    logged_in_admin(served, browser)
    browser.get(url(served, "/stations"))
    browser.find_element(By.CSS_SELECTOR, "button[name=approve][value='NEW-STATION-1']").click()
    key = wait(browser, lambda b: b.find_element(By.ID, "new-key")).text
    assert len(key) == 32
    assert "NEW-STATION-1" in browser.find_element(By.ID, "enrolled-table").text
    assert ("approve_station", ("NEW-STATION-1",)) in served.facade.calls


def test_a_setting_error_is_shown_next_to_the_field(served: Site, browser: Any) -> None:
    logged_in_admin(served, browser)
    browser.get(url(served, "/settings/ocpp"))
    fill(browser, {"f.port": "70000"})
    submit(browser)
    error = wait(browser, lambda b: b.find_element(By.ID, "error-port"))
    assert error.text == "must be between 1 and 65535"
    assert served.facade.settings()["ocpp"]["port"] == 8887
    fill(browser, {"f.port": "8999"})
    submit(browser)
    wait(browser, lambda b: "Settings saved" in b.page_source)
    assert served.facade.settings()["ocpp"]["port"] == 8999


def test_importing_badges_from_a_csv_file(served: Site, browser: Any, tmp_path: Path) -> None:
    logged_in_admin(served, browser)
    bad = tmp_path / "bad.csv"
    bad.write_text("id_tag,name,vip\nGOOD1,Ann,yes\nbad tag,Bob,no\n")
    good = tmp_path / "good.csv"
    good.write_text("id_tag,name,group,vip\nGOOD1,Ann,staff,yes\nGOOD2,Bob,,no\n")
    browser.get(url(served, "/badges"))
    browser.find_element(By.ID, "import-file").send_keys(str(bad))
    browser.find_element(By.ID, "import-submit").click()
    errors = wait(browser, lambda b: b.find_element(By.ID, "import-errors")).text
    assert "line 3: badge id must be" in errors
    assert "GOOD1" not in {b.id_tag for b in served.facade.badges()}
    browser.find_element(By.ID, "import-file").send_keys(str(good))
    browser.find_element(By.ID, "import-submit").click()
    wait(browser, lambda b: "2 badge(s) imported" in b.page_source)
    assert "GOOD2" in browser.find_element(By.ID, "badge-table").text


def test_exporting_sessions_as_csv(served: Site, browser: Any) -> None:
    logged_in_admin(served, browser)
    for old in browser.downloads.glob("*"):
        old.unlink()
    browser.get(url(served, "/sessions?station=CP0002"))
    browser.find_element(By.ID, "export-csv").click()
    files = wait(
        browser,
        lambda b: [p for p in b.downloads.glob("evsite-sessions-*.csv") if p.stat().st_size > 0],
    )
    lines = files[0].read_text().splitlines()
    assert lines[0].startswith("session_id,station_id")
    assert len(lines) > 1 and all(",CP0002," in line for line in lines[1:])


def test_dashboard_updates_by_itself(served: Site, browser: Any) -> None:
    browser.get_log("browser")  # forget what earlier tests logged
    logged_in_admin(served, browser)
    wait(browser, lambda b: b.find_element(By.ID, "chart").get_attribute("data-points"))
    assert browser.find_element(By.ID, "site-power").text == "7.40"
    served.facade.power_w = 12_340.0
    served.clock.advance(5)
    before = browser.find_element(By.TAG_NAME, "html")
    wait(browser, lambda b: b.find_element(By.ID, "site-power").text == "12.34", timeout=20)
    assert browser.find_element(By.TAG_NAME, "html") == before  # polled, not reloaded
    # No script or style was blocked by the Content-Security-Policy, and nothing failed.
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
