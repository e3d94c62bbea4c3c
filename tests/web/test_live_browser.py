"""The live pages in a real browser against a real daemon on the real Docker engine.

``oven run`` as a child process applies a config repo (a real bare repo pushed with the real
git client), runs containers on the engine and serves the pages. Debian's headless Chromium
opens each page, watches a run's log lines appear as the container prints them and the run move
from running to succeeded without a reload, and saves screenshots of the overview, the job page
with its plot, and the live run page: into ``OVEN_SCREENSHOT_DIR`` when it is set
(``make screenshots`` sets it to docs/screenshots/), else into the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scenarios.harness import ROOT, Daemon, make_bare, manifest, oven, push_files, wait_until
from support import engine

from .test_browser import (  # noqa: F401 (browser is a fixture)
    browser,
    console_errors,
    text_of,
    wait_for,
    wait_until_live,
)

pytestmark = pytest.mark.docker

STEPS = 10  # the live job prints one line a second


def live_job(gate: Path) -> str:
    """The live job: its steps, then it waits for the test to create ``gate``/open before its
    last line, so that it is still running while the test looks at it however slow the
    machine is (a browser, a daemon and the engine share 2 cores in CI)."""
    return manifest(
        "live-demo",
        name="Live demo: a job that prints as it goes",
        schedule={"type": "manual"},
        command=[
            "sh",
            "-c",
            f'for i in $(seq 1 {STEPS}); do echo "step $i of {STEPS}: processing batch $i"; '
            "sleep 1; done; while [ ! -f /gate/open ]; do sleep 0.1; done; echo all done",
        ],
        volumes=[f"{gate}:/gate:ro"],
    )


# Durations of 0 to 3 s by the clock; 3 s fails: a history with both outcomes for the plot.
BACKUP_JOB = manifest(
    "nightly-backup",
    name="Nightly backup",
    schedule={"type": "interval", "every": "2s"},
    command=["sh", "-c", "n=$(( $(date +%s) % 4 )); echo backing up; sleep $n; test $n -ne 3"],
)
REPORT_JOB = manifest(
    "weekly-report",
    name="Weekly report",
    schedule={"type": "cron", "cron": "0 9 * * 1", "timezone": "Europe/Berlin"},
    command=["sh", "-c", "echo report"],
)
HISTORY = 8  # finished backup runs before the pages are opened


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    client = engine.connect()
    subprocess.run(["bash", str(ROOT / "scripts/build-images.sh")], check=True, capture_output=True)
    instance = f"web-live-{uuid.uuid4().hex[:8]}"
    bare = make_bare(tmp_path / "config.git")
    (tmp_path / "gate").mkdir()
    files = {
        "jobs/live-demo.yaml": live_job(tmp_path / "gate"),
        "jobs/nightly-backup.yaml": BACKUP_JOB,
        "jobs/weekly-report.yaml": REPORT_JOB,
    }
    head = push_files(bare, "main", files, "three jobs")
    gate = ("--allow-volume", str(tmp_path / "gate"))
    started = Daemon(str(bare), tmp_path / "state", instance, *gate).start()
    try:
        wait_until(lambda: started.applied_revision() == head, 60, "the config to be applied")
        yield started
    finally:
        started.stop()
        engine.remove_containers(client, instance_prefix=instance)
        client.close()


@pytest.fixture
def chromium(browser: Any) -> Iterator[Any]:  # noqa: F811 (the fixture imported above)
    """The module's browser on a blank page with an empty console log, its size restored."""
    browser.get("about:blank")
    browser.get_log("browser")
    yield browser
    browser.set_window_size(1360, 1000)
    browser.get("about:blank")


def shots() -> Path:
    """Where screenshots go: ``OVEN_SCREENSHOT_DIR`` when set, else a fresh temp dir."""
    folder = os.environ.get("OVEN_SCREENSHOT_DIR")
    return Path(folder) if folder else Path(tempfile.mkdtemp(prefix="oven-shots-"))


def finished_runs(daemon: Daemon, job: str) -> list[dict[str, Any]]:
    runs = daemon.get_json(f"/api/v1/runs?job={job}&status=succeeded,failed")["runs"]
    return list(runs)


def running_run(daemon: Daemon, job: str) -> str | None:
    runs = daemon.get_json(f"/api/v1/runs?job={job}&status=running")["runs"]
    return str(runs[0]["run_id"]) if runs else None


def seconds(text: str) -> float:
    """'4.3s' -> 4.3, '1m 5s' -> 65 (the pages' duration format); -1 when unreadable."""
    total = 0.0
    for part in text.split():
        unit = {"s": 1, "m": 60, "h": 3600}.get(part[-1:])
        try:
            total += float(part[:-1]) * unit if unit else float("nan")
        except ValueError:
            return -1.0
    return total if total == total else -1.0


def screenshot(driver: Any, name: str, height: int) -> None:
    """The page at the browser's width and ``height`` px, saved as ``name``."""
    driver.set_window_size(1280, height)
    path = shots() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path)), path


def test_pages_follow_a_real_daemon_live(chromium: Any, daemon: Daemon) -> None:
    driver, url = chromium, f"http://127.0.0.1:{daemon.port}"
    wait_until(lambda: len(finished_runs(daemon, "nightly-backup")) >= HISTORY, 120, "history")

    # the job page: a plot of duration and outcome, and the success-rate strip
    driver.get(f"{url}/jobs/nightly-backup")
    wait_until_live(driver)
    bars = driver.find_elements("css selector", "svg.plot rect.pbar")
    assert len(bars) >= HISTORY
    outcomes = {bar.get_attribute("class") for bar in bars}
    assert outcomes & {"pbar s-succeeded", "pbar s-failed"}, outcomes
    assert text_of(driver, "#strip-rate").endswith("%")
    screenshot(driver, "job.png", 1000)

    # a manual run of the live job; the overview marks it with its elapsed time
    answer = oven("trigger", "live-demo", "--state-dir", str(daemon.state_dir))
    assert answer.returncode == 0, answer.stderr
    run_id = wait_until(lambda: running_run(daemon, "live-demo"), 60, "the live run to start")
    driver.get(f"{url}/")
    row = '#jobs-body tr[data-job="live-demo"]'
    wait_until_live(driver)
    elapsed = f"{row} .running-for time"
    wait_for(driver, lambda d: seconds(text_of(d, elapsed)) >= 3, "the elapsed time to tick")
    assert text_of(driver, "#health-reconciler strong") == "Ready"
    assert "job" in text_of(driver, "#health-jobs strong")
    screenshot(driver, "overview.png", 760)

    # the run page: lines appear as the container prints them, then the run succeeds
    driver.get(f"{url}/runs/{run_id}")
    driver.execute_script("window.__sameDocument = 'yes'")
    wait_for(driver, lambda d: "step 2 of" in text_of(d, "#log-tail"), "a log line", timeout=30)
    assert text_of(driver, "#run-status") == "running"
    assert "all done" not in text_of(driver, "#log-tail")
    wait_for(driver, lambda d: "step 5 of" in text_of(d, "#log-tail"), "later lines", timeout=30)
    assert text_of(driver, "#run-elapsed time").endswith("s")
    screenshot(driver, "run-live.png", 900)
    (daemon.state_dir.parent / "gate" / "open").write_text("")  # the run may end now
    wait_for(driver, lambda d: text_of(d, "#run-status") == "succeeded", "success", timeout=60)
    wait_for(driver, lambda d: "all done" in text_of(d, "#log-tail"), "the last line", timeout=30)
    assert driver.execute_script("return window.__sameDocument") == "yes", "no reload"
    assert driver.find_element("id", "run-elapsed").is_displayed() is False
    status, _, saved = daemon.get(f"/api/v1/runs/{run_id}/log")
    assert status == 200 and text_of(driver, "#log-tail") == saved
    assert saved.count("\n") == STEPS + 1
    assert console_errors(driver) == []
    shown = json.loads(driver.execute_script("return JSON.stringify(document.body.dataset)"))
    assert shown.get("finished") == "1"
