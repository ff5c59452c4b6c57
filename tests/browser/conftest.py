"""Headless Debian Chromium for browser tests (shared by every test under tests/browser).

The ``browser`` fixture is a Selenium Chrome webdriver using the system's ``/usr/bin/chromium``
and ``/usr/bin/chromedriver`` (no browser download). If either is missing the fixture fails
with a clear message: CI installs them (``apt-get install chromium chromium-driver``), and these
tests must run, never skip.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.browser


def chrome_options(user_data_dir: Path):
    from selenium.webdriver.chrome.options import Options

    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--enable-unsafe-swiftshader", "--window-size=1280,900", f"--user-data-dir={user_data_dir}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return opts


@pytest.fixture
def browser(tmp_path):
    """A fresh headless Chromium (own profile directory), quit after the test."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.exists() or shutil.which(p.name))]
    if missing:
        pytest.fail(
            f"browser tests need Debian's chromium and chromedriver; missing: {', '.join(missing)} "
            "(install with: apt-get install -y chromium chromium-driver)", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=chrome_options(profile))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
