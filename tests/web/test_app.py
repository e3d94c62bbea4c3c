"""Every route of the web app through Starlette's TestClient (in-process ASGI)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from reconciler.status.view import Snapshot
from reconciler.web.app import create_app

REVIEW_RUN = "nightly-review-20260301-113000"
BACKUP_RUNNING = "backup-20260301-115500"


@pytest.fixture
def client(box) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(box)) as test_client:
        yield test_client


# ---------- pages ----------


def test_overview_lists_every_job_with_its_numbers(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for job_id in ("backup", "nightly-review", "idle"):
        assert f'data-job="{job_id}"' in page.text
        assert f'href="/jobs/{job_id}"' in page.text
    assert "every day at 02:00 (America/Los_Angeles)" in page.text
    assert '<span class="badge s-succeeded">succeeded</span>' in page.text  # backup's last run
    assert '<span class="badge s-none">never run</span>' in page.text  # idle
    assert "75%" in page.text and "42s" in page.text
    assert '<span class="bad">3</span>' in page.text  # consecutive failures of nightly-review
    assert f'href="/runs/{BACKUP_RUNNING}"' in page.text  # active run linked
    assert '<span class="tag">disabled</span>' in page.text


def test_overview_shows_condition_revisions_and_problems(client: TestClient, xss: str) -> None:
    page = client.get("/").text
    assert '<strong id="cond-state">Ready</strong>' in page
    assert 'class="condition c-ready"' in page
    assert ">aaaaaaaaaaaa</code>" in page
    assert 'class="diverged">bbbbbbbbbbbb</code>' in page  # attempted != applied
    assert '<time class="t" datetime="2026-03-01T11:59:56Z"' in page  # heartbeat
    assert '<section id="problems-panel" class="panel problems">' in page  # not hidden
    assert '<code class="loc">jobs/broken.yaml:7</code>' in page
    assert '<span class="field">schedule.cron</span>' in page
    assert html.escape(f"not a cron expression {xss}", quote=False) in page


def test_overview_hides_problem_panel_and_reports_stalled(box, sample: Snapshot) -> None:  # type: ignore[no-untyped-def]
    reconciler = dict(sample.reconciler, problems=[], conditions=[
        {"type": "Ready", "status": "False", "reason": "FetchFailed", "message": "remote down"},
        {"type": "Stalled", "status": "True", "reason": "FetchFailed", "message": "remote down"},
    ])
    box.set(replace(sample, reconciler=reconciler))
    page = TestClient(create_app(box)).get("/").text
    assert '<section id="problems-panel" class="panel problems" hidden>' in page
    assert '<strong id="cond-state">Stalled</strong>' in page
    assert 'class="condition c-stalled"' in page
    assert "remote down" in page


def test_overview_without_jobs_says_so(box) -> None:  # type: ignore[no-untyped-def]
    box.set(Snapshot())
    page = TestClient(create_app(box)).get("/")
    assert page.status_code == 200
    assert "No jobs are defined yet" in page.text
    assert '<strong id="cond-state">Unknown</strong>' in page.text


def test_job_page_shows_summary_and_history_newest_first(client: TestClient) -> None:
    page = client.get("/jobs/backup")
    assert page.status_code == 200
    text = page.text
    assert "Nightly Backup" in text and "platform-team" in text and "jobs/backup.yaml" in text
    order = [text.index(f'data-run="backup-20260301-{t}"') for t in ("115500", "105500", "095500")]
    assert order == sorted(order)
    assert '<span class="badge s-running">running</span>' in text
    assert 'data-feed="/api/v1/jobs/backup"' in text


def test_run_page_shows_error_hint_stages_and_escaped_log(client: TestClient, xss: str) -> None:
    page = client.get(f"/runs/{REVIEW_RUN}")
    assert page.status_code == 200
    text = page.text
    assert '<section id="run-error" class="error-box">' in text
    assert "AuthError" in text and "Claude login expired" in text
    assert "run `claude login` on the host" in text
    escaped_log = "&lt;script&gt;alert(1)&lt;/script&gt;\nboom &amp; &lt;b&gt;bold&lt;/b&gt;\n"
    assert re.search(
        r'<pre id="log-tail" class="log" data-source="tail" data-offset="\d+" '
        f'data-events="/runs/{REVIEW_RUN}/events">{re.escape(escaped_log)}</pre>',
        text,
    )
    # stage timeline: plan 0..10 s, review 10..40 s of a 42 s run
    assert 'class="fill s-succeeded" x="0.0" y="0" width="23.81"' in text
    assert 'class="fill s-failed" x="23.81" y="0" width="71.43"' in text
    assert "input 1200, output 300" in text
    assert xss not in text


def test_run_page_without_error_or_stages_hides_them(client: TestClient) -> None:
    text = client.get(f"/runs/{BACKUP_RUNNING}").text
    assert '<section id="run-error" class="error-box" hidden>' in text
    assert '<section id="stages-panel" class="panel" hidden>' in text
    assert "copying..." in text


def test_problems_page(client: TestClient) -> None:
    text = client.get("/problems").text
    assert '<code class="loc">jobs/broken.yaml:7</code>' in text
    assert '<p id="no-problems" class="ok-note" hidden>' in text


@pytest.mark.parametrize("path", ["/jobs/nope", "/runs/nope", "/no/such/page"])
def test_unknown_pages_are_404_html(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "404 · Not found" in page.text


def test_unknown_id_is_escaped_on_the_404_page(client: TestClient) -> None:
    evil = "<img src=x onerror=alert(1)>"
    page = client.get("/jobs/" + evil)
    assert page.status_code == 404
    assert evil not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text


def test_user_text_is_escaped_everywhere(client: TestClient, xss: str) -> None:
    for path in ("/", "/jobs/nightly-review", f"/runs/{REVIEW_RUN}", "/problems"):
        text = client.get(path).text
        assert xss not in text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize(
    "path", ["/", "/jobs/backup", f"/runs/{REVIEW_RUN}", "/problems", "/api/v1/jobs"]
)
def test_only_get_is_allowed(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_security_headers_on_pages_api_and_static(client: TestClient) -> None:
    for path in ("/", "/api/v1/jobs", "/static/live.js", "/jobs/nope", "/metrics"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp
        assert headers["x-content-type-options"] == "nosniff"
    # answers made once per version may be kept, but are asked for again before each use
    assert client.get("/").headers["cache-control"] == "private, no-cache"
    assert client.get("/runs/backup-20260301-115500").headers["cache-control"] == "no-store"


def test_static_assets_are_served(client: TestClient) -> None:
    script = client.get("/static/live.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script.text
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")


def test_mounted_under_a_prefix_links_carry_the_prefix(box) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(box), root_path="/oven")
    text = client.get("/oven/").text
    assert 'href="/oven/static/style.css"' in text
    assert 'href="/oven/jobs/backup"' in text
    assert 'data-base="/oven"' in text


# ---------- JSON API ----------


def test_api_jobs(client: TestClient) -> None:
    body = client.get("/api/v1/jobs").json()
    assert body["count"] == 3
    assert [job["job_id"] for job in body["jobs"]] == ["backup", "idle", "nightly-review"]


def test_api_one_job_and_404(client: TestClient) -> None:
    job = client.get("/api/v1/jobs/nightly-review").json()
    assert job["consecutive_failures"] == 3 and job["type"] == "agent-pipeline"
    missing = client.get("/api/v1/jobs/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no job 'nope'"
    assert missing.json()["error"]["hint"]


def test_api_runs_newest_first_without_log_tails(client: TestClient) -> None:
    body = client.get("/api/v1/runs").json()
    ids = [run["run_id"] for run in body["runs"]]
    assert ids == [BACKUP_RUNNING, REVIEW_RUN, "backup-20260301-105500", "backup-20260301-095500"]
    assert body["count"] == 4
    assert all("log_tail" not in run for run in body["runs"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("job=backup", [BACKUP_RUNNING, "backup-20260301-105500", "backup-20260301-095500"]),
        ("status=failed", [REVIEW_RUN, "backup-20260301-095500"]),
        ("status=failed,running", [BACKUP_RUNNING, REVIEW_RUN, "backup-20260301-095500"]),
        ("job=backup&status=failed", ["backup-20260301-095500"]),
        ("since=2026-03-01T11:00:00Z", [BACKUP_RUNNING, REVIEW_RUN]),
        ("since=2026-03-01T11:30:00%2B00:00", [BACKUP_RUNNING, REVIEW_RUN]),
        ("limit=1", [BACKUP_RUNNING]),
        ("job=nope", []),
    ],
)
def test_api_runs_filters(client: TestClient, query: str, expected: list[str]) -> None:
    body = client.get(f"/api/v1/runs?{query}").json()
    assert [run["run_id"] for run in body["runs"]] == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "unknown run status 'bogus'"),
        ("since=yesterday", "since='yesterday' is not an ISO 8601 time"),
        ("limit=abc", "limit='abc' is not a whole number"),
        ("limit=0", "limit must be between 1 and 1000, got 0"),
        ("limit=5000", "limit must be between 1 and 1000, got 5000"),
        ("stauts=failed", "unknown query parameter 'stauts'"),
    ],
)
def test_api_runs_bad_parameters_are_400(client: TestClient, query: str, message: str) -> None:
    response = client.get(f"/api/v1/runs?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["message"] == message


def test_api_one_run_has_log_tail_and_404(client: TestClient, xss: str) -> None:
    run = client.get(f"/api/v1/runs/{REVIEW_RUN}").json()
    assert run["log_tail"].startswith(xss)  # JSON carries raw text; the browser sets textContent
    assert run["error"]["class"] == "AuthError"
    assert [stage["name"] for stage in run["stages"]] == ["plan", "review"]
    missing = client.get("/api/v1/runs/nope")
    assert missing.status_code == 404 and "no run 'nope'" in missing.json()["error"]["message"]


def test_api_unknown_path_is_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_api_health(client: TestClient) -> None:
    health = client.get("/api/v1/health").json()
    assert health["state"] == "Ready"
    assert health["runs_by_status"] == {"failed": 2, "running": 1, "succeeded": 1}
    assert health["problems"] == 1 and health["runs_active"] == 1
    assert health["jobs"] == 3 and health["jobs_enabled"] == 2
    assert health["applied_revision"] == "a" * 40
    assert [c["type"] for c in health["conditions"]] == ["Ready", "Stalled"]


def test_api_snapshot_feed(client: TestClient) -> None:
    feed = client.get("/api/v1/snapshot").json()
    assert set(feed) == {
        "reconciler", "health", "jobs", "jobs_total", "offset", "current_stages",
        "active_started", "jobs_health",
    }
    assert feed["jobs_total"] == 3 and feed["offset"] == 0
    assert len(feed["reconciler"]["problems"]) == 1
    assert [job["job_id"] for job in feed["jobs"]] == ["backup", "idle", "nightly-review"]


# ---------- probes and metrics ----------


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_follows_the_ready_callable(box) -> None:  # type: ignore[no-untyped-def]
    state = {"ready": False}
    client = TestClient(create_app(box, ready=lambda: state["ready"]))
    assert client.get("/readyz").status_code == 503
    state["ready"] = True
    assert client.get("/readyz").json() == {"status": "ready"}
    assert TestClient(create_app(box)).get("/readyz").status_code == 200


def test_readyz_check_that_raises_is_not_ready(box) -> None:  # type: ignore[no-untyped-def]
    def broken() -> bool:
        raise RuntimeError("engine gone")

    response = TestClient(create_app(box, ready=broken)).get("/readyz")
    assert response.status_code == 503 and response.json()["error"] == "engine gone"


def test_metrics_follow_the_snapshot_on_every_scrape(box, sample: Snapshot) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(box))
    first = client.get("/metrics")
    assert first.headers["content-type"].startswith("text/plain")
    text = first.text
    assert "oven_jobs 3.0" in text
    assert 'oven_job_consecutive_failures{job="nightly-review"} 3.0' in text
    assert 'oven_job_last_success_timestamp{job="backup"} 1.772362542e+09' in text
    assert 'oven_job_last_success_timestamp{job="idle"}' not in text
    assert "oven_runs_active 1.0" in text and "oven_manifest_problems 1.0" in text
    assert "oven_reconciler_ready 1.0" in text
    box.set(replace(sample, jobs={}, reconciler=dict(sample.reconciler, problems=[])))
    second = client.get("/metrics").text
    assert "oven_jobs 0.0" in second and "oven_manifest_problems 0.0" in second
    assert "oven_job_consecutive_failures{" not in second


def test_failing_snapshot_source_gives_503_not_an_empty_page(box) -> None:  # type: ignore[no-untyped-def]
    def broken() -> Snapshot:
        raise RuntimeError("read model locked")

    client = TestClient(create_app(broken))
    page = client.get("/")
    assert page.status_code == 503 and "read model locked" in page.text
    api = client.get("/api/v1/jobs")
    assert api.status_code == 503 and "read model locked" in api.json()["error"]["message"]
    assert client.get("/metrics").status_code == 503
    assert client.get("/healthz").status_code == 200  # the process still serves


def test_extra_routes_are_mounted_before_the_built_in_ones(box) -> None:  # type: ignore[no-untyped-def]
    async def hook(request):  # type: ignore[no-untyped-def]
        return JSONResponse({"accepted": True}, status_code=202)

    client = TestClient(create_app(box, extra_routes=[Route("/hooks/git", hook, methods=["POST"])]))
    assert client.post("/hooks/git").status_code == 202
    assert client.get("/hooks/git").status_code == 405


def test_head_is_answered_like_get(client: TestClient) -> None:
    response = client.head("/jobs/backup")
    assert response.status_code == 200 and response.content == b""
    assert client.head("/jobs/nope").status_code == 404


def test_api_writes_datetimes_in_a_snapshot_as_iso_text(box, sample: Snapshot) -> None:  # type: ignore[no-untyped-def]
    when = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    box.set(replace(sample, jobs={"backup": dict(sample.jobs["backup"], next_run=when)}))
    job = TestClient(create_app(box)).get("/api/v1/jobs/backup").json()
    assert job["next_run"] == "2026-03-01T02:00:00Z"
