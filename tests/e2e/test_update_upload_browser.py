"""The firmware section in headless Chromium over the real HTTPS server: the page's own
script uploads with progress, follows verify and write, shows the installer's reason
for a tampered bundle, reloads to offer the reboot, and the reboot button asks first."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By

from tests.e2e.test_update_upload import Served, served
from tests.e2e.web.conftest import browser  # skips this module without Chromium
from tests.e2e.web.test_browser import fill, submit, url, wait
from tests.unit.web.support import ADMIN, PASSWORD

__all__ = ["browser", "served"]  # fixtures used by the test below


def test_in_the_browser_progress_reason_and_reboot(served: Served, browser: Any) -> None:
    browser.delete_all_cookies()
    browser.get(url(served.site, "/login"))
    fill(browser, {"username": ADMIN, "password": PASSWORD})
    submit(browser)
    wait(browser, lambda b: b.find_element(By.TAG_NAME, "h1").text == "Dashboard")
    browser.get(url(served.site, "/maintenance"))

    browser.find_element(By.ID, "update-file").send_keys(str(served.tampered))
    browser.find_element(By.ID, "update-submit").click()
    wait(browser, lambda b: "payload-hash-mismatch" in b.find_element(By.ID, "update-error").text)
    error = browser.find_element(By.ID, "update-error").text
    assert error.startswith("Update refused (payload-hash-mismatch)")

    browser.find_element(By.ID, "update-file").send_keys(str(served.good))
    browser.find_element(By.ID, "update-submit").click()
    ready = wait(browser, lambda b: b.find_element(By.ID, "update-ready"))
    assert "Version 1.1.0 is installed in slot B" in ready.text
    assert "armed" in browser.find_element(By.ID, "other-slot").text
    browser.find_element(By.ID, "update-reboot").click()
    browser.switch_to.alert.accept()  # the page asks before rebooting
    wait(browser, lambda b: "rebooting into the new version" in b.page_source)
    assert served.reboots == ["reboot"]
