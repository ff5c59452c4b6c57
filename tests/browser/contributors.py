"""Browser contributors in headless Chromium: one tab, one Web Worker, one contributor.

Shared by ``tests/browser`` and ``benchmarks/bench_privacy_http.py --browsers N`` (which puts
``tests/browser`` on ``sys.path``). The tabs run ``contribute_harness.html`` beside the site's
``js/`` tree (the contributor worker and the vendored libsodium, as the site ships them), each
with its job in the URL fragment; the page records the worker's progress (each entry stamped
with ``at``, milliseconds since the job started), its receipt and its error.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

from mangarec.paths import SITE_SRC

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HARNESS = Path(__file__).with_name("contribute_harness.html")
# a background tab must keep its timers and worker running at full speed
BACKGROUND_FLAGS = (
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)


def chrome_options(user_data_dir: Path):
    from selenium.webdriver.chrome.options import Options

    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-unsafe-swiftshader",
        "--window-size=1280,900",
        f"--user-data-dir={user_data_dir}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return opts


def missing_chromium() -> list[str]:
    """The paths of Chromium and chromedriver that are not installed."""
    return [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.exists() or shutil.which(p.name))]


def contributor_chromium(profile: Path):
    """A headless Chromium whose background tabs are not throttled (own profile directory)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = chrome_options(profile)
    for arg in BACKGROUND_FLAGS:
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_script_timeout(60)
    return driver


def serve_harness(root: Path):
    """Serve the harness and the site's ``js/`` tree from ``root`` on 127.0.0.1, port 0:
    (the harness URL, the server to shut down)."""
    from mangarec.site.serve import make_server

    shutil.copytree(SITE_SRC / "static" / "js", root / "js")
    shutil.copy(HARNESS, root / "harness.html")
    httpd = make_server(root, port=0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/harness.html", httpd


def open_tabs(driver, harness: str, jobs: dict[int, dict]) -> dict[int, str]:
    """One tab per job (the first in the current window): {contributor: window handle}."""
    handles = {}
    for k, (u, job) in enumerate(jobs.items()):
        if k:
            driver.switch_to.new_window("tab")
        driver.get(harness + "#" + json.dumps(job))
        handles[u] = driver.current_window_handle
    return handles


def wait_all(driver, handles: dict[int, str], timeout: float = 240) -> dict[int, dict]:
    """Each tab's receipt (or error), polled until all are in."""
    out: dict[int, dict] = {}
    end = time.time() + timeout
    while len(out) < len(handles):
        if time.time() > end:
            late = sorted(set(handles) - set(out))
            driver.switch_to.window(handles[late[0]])
            seen = driver.execute_script("return [window.__progress && window.__progress.slice(-3), window.__error]")
            raise AssertionError(f"tabs without an outcome: {late}; the first one's last progress and error: {seen}")
        for u, h in handles.items():
            if u in out:
                continue
            driver.switch_to.window(h)
            got = driver.execute_script("return [window.__receipt, window.__error]")
            if got[0] or got[1]:
                out[u] = got[0] or {"error": got[1]}
        time.sleep(0.5)
    return out


def lobby_waits(driver, handles: dict[int, str]) -> dict[int, float]:
    """Seconds each tab waited from its start (proof of work included) until its cohort's
    roster was fixed: the first progress past the lobby (the session's setup or rounds)."""
    out = {}
    for u, h in handles.items():
        driver.switch_to.window(h)
        progress = driver.execute_script("return window.__progress") or []
        past = [p["at"] for p in progress if p.get("stage") in ("setup", "rounds")]
        if past:
            out[u] = past[0] / 1000
    return out
