"""The live log endpoint, the run page's event stream, and what the pages add for live runs:
elapsed times, the jobs' health apart from the reconciler's, the history plot, the token field.

Logs are real files in a state dir, written by ``logfiles`` as the reconciler writes them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from reconciler.clock import FakeClock
from reconciler.executors import logfiles
from reconciler.status.view import Snapshot
from reconciler.web.app import create_app
from reconciler.web.plot import history_plot

from .conftest import NOW, XSS

RUNNING = "backup-20260301-115500"
FAILED = "backup-20260301-095500"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def live_client(sample: Snapshot, state: Path) -> TestClient:
    clock = FakeClock(NOW + timedelta(seconds=83))
    return TestClient(create_app(lambda: sample, state_dir=state, clock=clock))


def write_live(state: Path, run_id: str, data: bytes) -> None:
    path = logfiles.live_path(state, "backup", run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def events(text: str) -> list[tuple[str, Any]]:
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_log_endpoint_reads_the_live_log_from_an_offset_with_the_shared_headers(
    live_client: TestClient, state: Path
) -> None:
    write_live(state, RUNNING, b"one\ntwo\n")
    first = live_client.get(f"/api/v1/runs/{RUNNING}/log")
    assert first.status_code == 200 and first.text == "one\ntwo\n"
    assert first.headers["content-type"] == "text/plain; charset=utf-8"
    assert (first.headers["x-oven-log-offset"], first.headers["x-oven-log-final"]) == ("8", "0")
    write_live(state, RUNNING, b"one\ntwo\nthree\n")
    more = live_client.get(f"/api/v1/runs/{RUNNING}/log?offset=8")
    assert (more.text, more.headers["x-oven-log-offset"]) == ("three\n", "14")


def test_log_endpoint_is_final_once_the_log_is_saved_or_the_run_ended_without_one(
    live_client: TestClient, state: Path
) -> None:
    logfiles.save(state, "backup", RUNNING, b"all of it\n")
    done = live_client.get(f"/api/v1/runs/{RUNNING}/log")
    assert (done.text, done.headers["x-oven-log-final"]) == ("all of it\n", "1")
    never = live_client.get(f"/api/v1/runs/{FAILED}/log")
    assert (never.text, never.headers["x-oven-log-final"]) == ("", "1")


@pytest.mark.parametrize(("query", "status"), [("offset=-1", 400), ("offset=abc", 400), ("", 404)])
def test_log_endpoint_refuses_bad_offsets_and_unknown_runs(
    live_client: TestClient, query: str, status: int
) -> None:
    run = RUNNING if query else "no-such-run"
    answer = live_client.get(f"/api/v1/runs/{run}/log?{query}")
    assert answer.status_code == status
    assert answer.json()["error"]["message"]


def test_event_stream_sends_log_text_the_run_and_the_end(sample: Snapshot, state: Path) -> None:
    runs = dict(sample.runs)
    runs[RUNNING] = {**runs[RUNNING], "status": "succeeded", "finished_at": "2026-03-01T11:56:00Z"}
    logfiles.save(state, "backup", RUNNING, f"héllo {XSS}\n".encode())
    app = create_app(lambda: replace(sample, runs=runs), state_dir=state)
    with TestClient(app) as client:
        stream = client.get(f"/runs/{RUNNING}/events?offset=0")
    assert stream.headers["content-type"].startswith("text/event-stream")
    got = events(stream.text)
    kinds = [kind for kind, _ in got]
    assert kinds == ["log", "run", "end"]
    assert got[0][1] == {"text": f"héllo {XSS}\n", "offset": len(f"héllo {XSS}\n".encode())}
    assert got[1][1]["status"] == "succeeded" and "log_tail" not in got[1][1]
    assert got[1][1]["elapsed_s"] == 60.0
    assert f"id: {got[0][1]['offset']}" in stream.text  # a reconnect resumes there


def test_event_stream_resumes_at_last_event_id(sample: Snapshot, state: Path) -> None:
    runs = dict(sample.runs)
    runs[RUNNING] = {**runs[RUNNING], "status": "failed", "finished_at": "2026-03-01T11:56:00Z"}
    logfiles.save(state, "backup", RUNNING, b"one\ntwo\n")
    app = create_app(lambda: replace(sample, runs=runs), state_dir=state)
    with TestClient(app) as client:
        stream = client.get(f"/runs/{RUNNING}/events", headers={"Last-Event-ID": "4"})
    assert events(stream.text)[0] == ("log", {"text": "two\n", "offset": 8})


def test_run_page_shows_the_live_log_elapsed_time_and_refreshes_without_script(
    live_client: TestClient, state: Path
) -> None:
    write_live(state, RUNNING, f"step 1 {XSS}\n".encode())
    page = live_client.get(f"/runs/{RUNNING}").text
    assert "step 1 &lt;script&gt;alert(1)&lt;/script&gt;\n</pre>" in page
    assert 'data-source="file" data-offset="33"' in page
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
    assert "running for <time" in page and ">6m 23s</time>" in page
    assert "token-input" not in page, "no write API, no token field"


def test_finished_run_page_does_not_refresh(live_client: TestClient) -> None:
    page = live_client.get(f"/runs/{FAILED}").text
    assert 'http-equiv="refresh"' not in page


def test_token_field_and_buttons_only_with_the_write_api(sample: Snapshot) -> None:
    client = TestClient(create_app(lambda: sample, write_api=True))
    page = client.get(f"/runs/{RUNNING}").text
    assert 'id="token-input" type="password"' in page
    assert 'id="cancel-run" class="act" hidden' in page  # shown by the script with a token
    assert "<form" not in page  # the CSP forbids form actions: buttons use fetch


def test_overview_marks_running_jobs_with_elapsed_time_and_job_health_apart(
    live_client: TestClient,
) -> None:
    page = live_client.get("/").text
    assert '<span class="running-for"><time class="elapsed" datetime="2026-03-01T11:55:00Z"' in page
    assert ">6m 23s</time>" in page  # the clock is 83 s past NOW, the run started 5 min before
    assert 'id="health-reconciler" class="hchip c-ready"' in page
    assert "Jobs <strong>1 job failing</strong>" in page  # nightly-review


def test_job_page_plots_duration_and_outcome_of_the_kept_runs(live_client: TestClient) -> None:
    page = live_client.get("/jobs/backup").text
    assert page.count('<rect class="pbar s-') == 3
    assert 'class="pbar s-failed"' in page and 'class="pbar s-running"' in page
    assert 'id="strip-rate">50%</strong>' in page
    assert "1 of 2 finished runs succeeded" in page


def test_history_plot_scales_bars_to_the_longest_run_oldest_left() -> None:
    runs = [  # newest first, as the page lists them
        {"run_id": "c", "status": "missed", "duration_s": None},
        {"run_id": "b", "status": "failed", "duration_s": 5.0},
        {"run_id": "a", "status": "succeeded", "duration_s": 10.0},
    ]
    plot = history_plot(runs)
    assert [bar.run_id for bar in plot.bars] == ["a", "b", "c"]
    assert [bar.height for bar in plot.bars] == [160.0, 80.0, 2.0]
    assert (plot.succeeded, plot.finished, plot.success_rate) == (1, 2, 0.5)
    assert plot.bars[1].label == "b · failed · 5.0s"
    assert history_plot([]).bars == ()


def test_head_of_the_event_stream_answers_at_once(live_client: TestClient) -> None:
    answer = live_client.head(f"/runs/{RUNNING}/events")
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["content-type"].startswith("text/event-stream")
