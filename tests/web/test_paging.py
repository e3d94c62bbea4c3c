"""Pages of jobs, and answers made once per version: ETag/304, gzip, kept across versions.

Through a real uvicorn server and httpx (real HTTP, real gzip on the wire), with a snapshot of
250 jobs made from the sample's summaries.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from reconciler.clock import FakeClock, iso
from reconciler.status.view import Snapshot
from reconciler.web.app import create_app
from reconciler.web.cached import Keep, _accepts_gzip
from reconciler.web.server import serve_in_thread

from .conftest import NOW, SnapshotBox, job_summary, run_record

JOBS = 250


def many_jobs() -> Snapshot:
    running = run_record("job-007", 1, "running")
    jobs = {
        f"job-{n:03d}": job_summary(f"job-{n:03d}", f"Job {n}", [running] if n == 7 else [])
        for n in range(JOBS)
    }
    reconciler = {"heartbeat": iso(NOW), "conditions": [], "problems": []}
    return Snapshot(reconciler=reconciler, jobs=jobs, runs={running["run_id"]: running})


@pytest.fixture
def served() -> Iterator[tuple[httpx.Client, SnapshotBox, FakeClock]]:
    box, clock = SnapshotBox(many_jobs()), FakeClock(NOW)
    handle = serve_in_thread(create_app(box, clock=clock))
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client, box, clock
    handle.stop()


def row_ids(page: str) -> list[str]:
    return re.findall(r'<tr data-job="(job-\d+)"', page)


def test_the_overview_shows_one_page_of_jobs_with_links_to_the_others(served) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = served
    first = client.get("/").text
    assert row_ids(first) == [f"job-{n:03d}" for n in range(100)]
    assert 'id="jobs-count" class="pill">250<' in first
    assert "Jobs 1–100 of 250" in first and 'id="jobs-previous"' not in first
    assert 'href="/?offset=100&amp;limit=100" rel="next"' in first
    assert 'data-feed="/api/v1/snapshot?offset=0&amp;limit=100"' in first

    last = client.get("/?offset=200").text
    assert row_ids(last) == [f"job-{n:03d}" for n in range(200, 250)]
    assert "Jobs 201–250 of 250" in last and 'id="jobs-next"' not in last
    assert 'href="/?offset=100&amp;limit=100" rel="prev"' in last
    assert 'data-feed="/api/v1/snapshot?offset=200&amp;limit=100"' in last

    small = client.get("/?offset=10&limit=5").text
    assert row_ids(small) == [f"job-{n:03d}" for n in range(10, 15)]
    beyond = client.get("/?offset=900").text
    assert "No jobs on this page" in beyond and "250 jobs in all" in beyond


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit must be between 1 and 1000"),
        ("offset=-1", "offset must be 0 or more"),
        ("offset=x", "is not a whole number"),
        ("page=2", "unknown query parameter"),
    ],
)
def test_a_bad_page_of_jobs_is_a_400(served, query: str, message: str) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = served
    page = client.get(f"/?{query}")
    assert (
        page.status_code == 400
        and message in page.text
        and "text/html" in page.headers["content-type"]
    )
    for api in ("/api/v1/jobs", "/api/v1/snapshot"):
        answer = client.get(f"{api}?{query}")
        assert answer.status_code == 400 and message in answer.json()["error"]["message"]


def test_the_api_pages_jobs_and_says_how_many_there_are(served) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = served
    every = client.get("/api/v1/jobs").json()
    assert every["count"] == every["total"] == JOBS and len(every["jobs"]) == JOBS
    page = client.get("/api/v1/jobs?offset=240&limit=20").json()
    assert [j["job_id"] for j in page["jobs"]] == [f"job-{n:03d}" for n in range(240, 250)]
    assert page["count"] == 10 and page["total"] == JOBS
    feed = client.get("/api/v1/snapshot?offset=100&limit=3").json()
    assert [j["job_id"] for j in feed["jobs"]] == ["job-100", "job-101", "job-102"]
    assert feed["jobs_total"] == JOBS and feed["offset"] == 100
    assert list(feed["active_started"]) == [run_record("job-007", 1, "running")["run_id"]]
    assert len(client.get("/api/v1/snapshot").json()["jobs"]) == JOBS  # unpaged: every job


@pytest.mark.parametrize("path", ["/", "/problems", "/api/v1/jobs", "/api/v1/snapshot?limit=5"])
def test_an_unchanged_answer_is_a_304_and_a_changed_one_is_not(served, path: str) -> None:  # type: ignore[no-untyped-def]
    client, box, _ = served
    first = client.get(path)
    etag = first.headers["etag"]
    assert first.status_code == 200 and first.headers["cache-control"] == "private, no-cache"
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    before = box()
    jobs = dict(before.jobs, **{"job-000": dict(before.jobs["job-000"], name="Renamed")})
    reconciler = dict(before.reconciler, problems=[{"path": "jobs/x.yaml", "message": "bad"}])
    box.set(replace(before, jobs=jobs, reconciler=reconciler))
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_answers_are_gzipped_for_clients_that_accept_it(served) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = served
    plain = client.get("/api/v1/jobs", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    with client.stream("GET", "/api/v1/jobs", headers={"Accept-Encoding": "gzip"}) as zipped:
        raw = b"".join(zipped.iter_raw())  # the bytes as they came over the wire
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
    assert json.loads(gzip.decompress(raw)) == plain.json()
    assert len(raw) < len(plain.content) / 4
    # a small answer is sent as it is
    assert "content-encoding" not in client.get("/api/v1/health").headers
    assert _accepts_gzip("br, gzip;q=0.5") and not _accepts_gzip("gzip;q=0")
    assert not _accepts_gzip("identity") and _accepts_gzip("*")


def test_a_new_version_with_the_same_summaries_keeps_the_jobs_answer(served) -> None:  # type: ignore[no-untyped-def]
    """Each tick publishes a version (the heartbeat moves) with the same summary objects: the
    jobs answer is kept; the feed, which shows the heartbeat, is made again."""
    client, box, _ = served
    jobs, feed = client.get("/api/v1/jobs"), client.get("/api/v1/snapshot")
    before = box()
    later = dict(before.reconciler, heartbeat=iso(NOW + timedelta(seconds=1)))
    box.set(replace(before, reconciler=later, version=before.version + 1))
    assert client.get("/api/v1/jobs").headers["etag"] == jobs.headers["etag"]
    moved = client.get("/api/v1/snapshot")
    assert moved.headers["etag"] != feed.headers["etag"]
    assert moved.json()["reconciler"]["heartbeat"] == later["heartbeat"]


def test_the_overview_of_a_running_job_shows_its_elapsed_time_afresh(served) -> None:  # type: ignore[no-untyped-def]
    """A page with a running run's elapsed time in it is made again once a second."""
    client, _, clock = served
    first = client.get("/")
    assert client.get("/").headers["etag"] == first.headers["etag"]  # the same second
    clock.advance(5)
    later = client.get("/")
    assert later.headers["etag"] != first.headers["etag"]
    assert "1m 5s" in later.text and "1m 5s" not in first.text


def test_keep_checks_its_inputs_by_identity_and_stays_bounded() -> None:
    keep, made = Keep(size=2), []
    inputs = {"a": 1}

    def make(value: str) -> str:
        made.append(value)
        return value

    assert keep.get("k", (inputs,), lambda: make("one")) == "one"
    assert keep.get("k", (inputs,), lambda: make("two")) == "one"  # same object: kept
    assert keep.get("k", ({"a": 1},), lambda: make("three")) == "three"  # equal, not same
    keep.get("x", (1,), lambda: make("x"))
    keep.get("y", (1,), lambda: make("y"))  # "k" is the least recently used: dropped
    assert keep.get("k", ({"a": 1},), lambda: make("four")) == "four"
    assert made == ["one", "three", "x", "y", "four"]
