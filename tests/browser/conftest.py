"""Headless Debian Chromium for browser tests (shared by every test under tests/browser).

The ``browser`` fixture is a Selenium Chrome webdriver using the system's ``/usr/bin/chromium``
and ``/usr/bin/chromedriver`` (no browser download). If either is missing the fixture fails
with a clear message: CI installs them (``apt-get install chromium chromium-driver``), and these
tests must run, never skip.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from contributors import CHROMEDRIVER, chrome_options, missing_chromium

from mangarec.paths import DEFAULT_CATALOG, DEFAULT_CONFIG, ROOT

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(os.environ.get("MANGAREC_CACHE_DIR", ROOT / ".cache")) / "numba"))

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(tmp_path):
    """A fresh headless Chromium (own profile directory), quit after the test."""
    missing = missing_chromium()
    if missing:
        pytest.fail(
            f"browser tests need Debian's chromium and chromedriver; missing: {', '.join(missing)} "
            "(install with: apt-get install -y chromium chromium-driver)",
            pytrace=False,
        )
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


CSP_PROBE = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation', function (e) {"
    " window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });"
)


class Server:
    def __init__(self, directory: Path, base_path: str = "/"):
        from mangarec.site.serve import make_server

        self.httpd = make_server(directory, port=0, base_path=base_path)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{base_path}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """(site dir, root server, sub-path server, BuildResult) for the bundled catalog."""
    from mangarec.config import load_config
    from mangarec.pipeline import run_build

    out = tmp_path_factory.mktemp("built") / "site"
    out.mkdir()
    root = Server(out)
    sub = Server(out, "/sub/path/")
    cfg = load_config(DEFAULT_CONFIG)
    cfg = replace(cfg, site=replace(cfg.site, site_url=root.url))
    cache = Path(os.environ.get("MANGAREC_CACHE_DIR", ROOT / ".cache"))
    result = run_build([str(DEFAULT_CATALOG)], out, cfg, cache_dir=cache, quiet=True, force=True)
    assert result is not None
    yield out, root, sub, result
    root.close()
    sub.close()


@pytest.fixture(scope="session")
def built_sub(built, tmp_path_factory):
    """The same build published under ``/sub/path/`` with ``site_url`` saying so (the 404 page's
    links come from it): (sub-path server, BuildResult). Only the site is written again."""
    from mangarec.site import write_site

    _, _, _, result = built
    out = tmp_path_factory.mktemp("built-sub") / "site"
    out.mkdir()
    server = Server(out, "/sub/path/")
    res = replace(result, config=replace(result.config, site=replace(result.config.site, site_url=server.url)))
    write_site(res, out)
    yield server, res
    server.close()


def open_page(browser, url: str, ready: str | None = None, timeout: float = 30):
    """Load ``url`` with a CSP-violation probe installed; wait for the ``ready`` JS condition."""
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_PROBE})
    browser.get(url)
    wait_for(browser, "return document.readyState === 'complete'", timeout)
    if ready:
        wait_for(browser, ready, timeout)


def wait_for(browser, script: str, timeout: float = 30):
    end = time.time() + timeout
    while True:
        try:
            value = browser.execute_script(script)
        except Exception:  # page navigating
            value = None
        if value:
            return value
        if time.time() > end:
            raise AssertionError(f"timed out waiting for: {script}")
        time.sleep(0.1)


def assert_clean(browser, allow: tuple[str, ...] = ()):
    """No SEVERE console entry (errors, CSP refusals, failed loads) and no CSP violation event."""
    logs = [
        e for e in browser.get_log("browser") if e["level"] == "SEVERE" and not any(a in e["message"] for a in allow)
    ]
    assert not logs, logs
    violations = browser.execute_script("return window.__csp || []")
    assert violations == [], violations


def page_modules(browser, names: tuple[str, ...], body: str, *args):
    """Run JS ``body`` (a function body returning a value or a promise) with ``mod``: the page's
    ES modules ``names`` (e.g. ``("taste", "profile")`` → ``mod.taste``, ``mod.profile``), imported
    beside the page's entry module, so the same instances the page runs; and ``args``. The pages
    define no globals: this is how a test reaches their state. Returns what ``body`` returns."""
    script = (
        "const done = arguments[arguments.length - 1], args = Array.from(arguments).slice(0, -1);"
        'const entry = document.querySelector(\'script[type="module"][src*="/assets/js."]\');'
        "if (!entry) { done({__error: 'no entry module on this page'}); return; }"
        f"const names = {list(names)!r};"
        "Promise.all(names.map(function (n) { return import(new URL(n + '.js', entry.src).href); }))"
        ".then(function (ms) { const mod = {}; names.forEach(function (n, k) { mod[n] = ms[k]; });"
        f" return (function (mod, args) {{ {body} }})(mod, args); }})"
        ".then(done, function (e) { done({__error: String(e)}); });"
    )
    got = browser.execute_async_script(script, *args)
    assert not (isinstance(got, dict) and "__error" in got), got
    return got
