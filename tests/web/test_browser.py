"""The pages in a real browser: Debian's headless Chromium driven by Selenium.

Checks what only a browser can: the script runs under the strict CSP without errors, text
from manifests and logs stays text, and a page follows the snapshot without a reload.
Needs ``apt-get install -y chromium chromium-driver`` (make setup installs both).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.clock import iso
from reconciler.status.view import Snapshot
from reconciler.web.app import create_app
from reconciler.web.server import ServerHandle, serve_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
POLL_SECONDS = 0.3
RUNNING = "backup-20260301-115500"


def _require_browser() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(
            f"browser tests need {', '.join(missing)}: run `apt-get install -y chromium "
            "chromium-driver` (as root; `make setup` does it)",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (starting one takes about a second)."""
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="oven-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1360,1000",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chromium = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    chromium.set_page_load_timeout(20)
    try:
        yield chromium
    finally:
        chromium.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def driver(browser: Any) -> Iterator[Any]:
    """The shared browser on a blank page with an empty console log."""
    browser.get("about:blank")
    browser.get_log("browser")
    yield browser
    browser.get("about:blank")


@pytest.fixture
def server(box) -> Iterator[ServerHandle]:  # type: ignore[no-untyped-def]
    handle = serve_in_thread(create_app(box, poll_seconds=POLL_SECONDS))
    yield handle
    handle.stop()


def wait_for(driver: Any, condition: Callable[[Any], Any], what: str, timeout: float = 10) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message=what)


def text_of(driver: Any, css: str) -> str:
    return str(driver.execute_script(
        "var n = document.querySelector(arguments[0]); return n ? n.textContent : null;", css
    ))


def wait_until_live(driver: Any) -> None:
    wait_for(driver, lambda d: text_of(d, "#live").startswith("live"), "the page to go live")


def console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_overview_runs_its_script_under_the_csp_and_keeps_text_as_text(
    driver: Any, server: ServerHandle, box: Any, sample: Snapshot, xss: str
) -> None:
    now = datetime.now(UTC)
    times = {
        "heartbeat": iso(now - timedelta(seconds=90)),
        "next_wakeup": iso(now + timedelta(minutes=5, seconds=30)),
    }
    box.set(replace(sample, reconciler={**sample.reconciler, **times}))
    driver.get(server.url + "/")
    wait_until_live(driver)
    assert text_of(driver, '#jobs-body tr[data-job="nightly-review"] .sub') == f"Review {xss}"
    assert driver.execute_script("return document.scripts.length") == 1  # only live.js
    assert text_of(driver, "#problems-count") == "1"
    assert xss in text_of(driver, "#problems-list")
    assert text_of(driver, "#heartbeat time") == "1m ago"  # relative, computed client-side
    assert text_of(driver, "#next-wakeup time") == "in 5m"
    old = text_of(driver, '#jobs-body tr[data-job="backup"] a.when time')  # older than a week
    assert old == "2026-03-01 10:55"
    assert console_errors(driver) == []


def test_styles_load_under_the_csp(driver: Any, server: ServerHandle) -> None:
    driver.get(server.url + "/")
    wait_until_live(driver)
    colour = driver.execute_script(
        "return getComputedStyle(document.querySelector('.badge.s-failed, .badge.s-succeeded'))"
        ".backgroundColor"
    )
    assert colour in ("rgb(218, 251, 225)", "rgb(255, 235, 233)")  # --ok-bg / --bad-bg
    folder = Path(os.environ.get("OVEN_SCREENSHOT_DIR") or tempfile.gettempdir())
    shot = folder / "oven-overview.png"
    assert driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def _finish(sample: Snapshot, log: str) -> Snapshot:
    run = dict(sample.runs[RUNNING], status="succeeded", finished_at="2026-03-01T11:56:05Z",
               duration_s=65.0, exit_code=0, log_tail=log)
    job = dict(sample.jobs["backup"], active_runs=[], consecutive_failures=0,
               last_run={"run_id": RUNNING, "status": "succeeded",
                         "finished_at": "2026-03-01T11:56:05Z", "exit_code": 0})
    return replace(sample, runs={**sample.runs, RUNNING: run}, jobs={**sample.jobs, "backup": job})


def test_run_page_follows_a_run_from_running_to_succeeded_without_reload(
    driver: Any, server: ServerHandle, box: Any, sample: Snapshot, xss: str
) -> None:
    driver.get(f"{server.url}/runs/{RUNNING}")
    wait_until_live(driver)
    assert text_of(driver, "#run-status .badge") == "running"
    driver.execute_script("window.__sameDocument = 'yes'")
    box.set(_finish(sample, f"copying...\ndone {xss}\n"))
    wait_for(driver, lambda d: text_of(d, "#run-status .badge") == "succeeded", "run to succeed")
    wait_for(driver, lambda d: "done" in text_of(d, "#log-tail"), "the new log line")
    assert text_of(driver, "#log-tail") == f"copying...\ndone {xss}\n"
    assert driver.execute_script("return document.querySelectorAll('#log-tail *').length") == 0
    assert text_of(driver, "#run-exit") == "0"
    assert text_of(driver, "#run-duration") == "1m 5s"
    assert driver.execute_script("return window.__sameDocument") == "yes"  # no reload happened
    assert console_errors(driver) == []


def test_overview_and_job_page_follow_the_snapshot(
    driver: Any, server: ServerHandle, box: Any, sample: Snapshot
) -> None:
    driver.get(server.url + "/")
    wait_until_live(driver)
    row = '#jobs-body tr[data-job="backup"]'
    assert text_of(driver, row + " .badge") == "succeeded"
    assert RUNNING in text_of(driver, row)
    driver.execute_script("window.__sameDocument = 'yes'")
    finished = _finish(sample, "ok\n")
    problems = [{"path": "jobs/x.yaml", "line": 3, "field": "id", "message": "duplicate id <b>"}]
    box.set(replace(finished, reconciler=dict(finished.reconciler, problems=problems)))
    wait_for(driver, lambda d: RUNNING not in text_of(d, row), "the active run to go")
    wait_for(driver, lambda d: "jobs/x.yaml:3" in text_of(d, "#problems-list"), "new problem")
    assert "duplicate id <b>" in text_of(driver, "#problems-list")
    assert driver.execute_script("return window.__sameDocument") == "yes"

    driver.get(server.url + "/jobs/backup")
    wait_until_live(driver)
    first_row = "#runs-body tr:first-child"
    assert text_of(driver, first_row + " .badge") == "succeeded"
    extra = dict(sample.runs[RUNNING], run_id="backup-m1", status="queued",
                 started_at=None, scheduled_for="2026-03-01T11:58:00Z")
    box.set(replace(finished, runs={**finished.runs, "backup-m1": extra}))
    wait_for(driver, lambda d: text_of(d, first_row + " .badge") == "queued", "new run on top")
    assert text_of(driver, first_row + " a.id") == "backup-m1"
    assert console_errors(driver) == []


def test_page_says_when_the_run_is_gone_and_when_the_server_is_down(
    driver: Any, box: Any, sample: Snapshot
) -> None:
    handle = serve_in_thread(create_app(box, poll_seconds=POLL_SECONDS))
    try:
        driver.get(f"{handle.url}/runs/{RUNNING}")
        wait_until_live(driver)
        box.set(replace(sample, runs={}))
        wait_for(driver, lambda d: d.find_element("id", "gone").is_displayed(), "gone banner")
        box.set(sample)
        wait_until_live(driver)
    finally:
        handle.stop()
    wait_for(driver, lambda d: text_of(d, "#live").startswith("offline"), "offline indicator")
