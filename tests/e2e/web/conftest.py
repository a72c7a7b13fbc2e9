"""Headless Chromium (Debian's, never a downloaded one) driving the real UI over TLS."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.web.support import Site, make_site

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(
        "Debian chromium and chromium-driver are not installed "
        "(apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium.webdriver.chrome.service import Service  # noqa: E402


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole run, with a fresh profile and download folder."""
    profile = tempfile.mkdtemp(prefix="evsite-chromium-")
    downloads = tempfile.mkdtemp(prefix="evsite-downloads-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--ignore-certificate-errors",
        f"--user-data-dir={profile}",
        "--window-size=1366,900",
    ):
        opts.add_argument(flag)
    opts.add_experimental_option(
        "prefs", {"download.default_directory": downloads, "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads}
    )
    driver.downloads = Path(downloads)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(downloads, ignore_errors=True)


@pytest.fixture
def served(tmp_path: Path, browser: Any) -> Iterator[Site]:
    """A fresh served site per test; the browser forgets its cookies."""
    site = make_site(tmp_path)
    site.web.start()
    browser.delete_all_cookies()
    yield site
    site.web.stop()
    site.db.close()
