"""Validation is the gate: whatever ``validate`` accepts, the daemon's code paths run.

Hypothesis drives every manifest field through the pure functions the daemon uses — load
(``load_tree``, as ``oven validate``, ``oven plan`` and the daemon do) -> ``plan`` -> ``decide``
-> fire times -> retry delays -> the container request and the engine's unit conversions —
plus the words and tables people read (``describe``, ``explain``, ``oven next``). Nothing may
raise; a valid manifest must load without a problem; every problem is one printable line.

Examples per test: ``OVEN_FUZZ_EXAMPLES`` (default 75, so 300 over the four tests,
derandomized so ``make test`` repeats itself); ``make fuzz`` runs 5000 per test (20 000 in
all) with a random seed.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.decide import decide, retry_delay
from reconciler.executors import limits, volumes
from reconciler.explain import explain, format_explain, format_next, next_fire_times
from reconciler.manifests import load_tree
from reconciler.manifests.bounds import MAX_MEMORY
from reconciler.model import DesiredState, JobSpec, RunRecord
from reconciler.planner import format_plan, plan
from reconciler.run_request import NotRunnable, build_request
from reconciler.runids import container_name, retry_run_id, scheduled_run_id
from reconciler.schedule import (
    count_fires_between,
    describe,
    fires_between,
    next_fire,
    previous_fire,
    recent_fires,
)

from .strategies import ALLOWED, instants, manifests, oven_settings, yaml_noise

EXAMPLES = int(os.environ.get("OVEN_FUZZ_EXAMPLES", "75"))  # per test: 4 tests, 300 in all
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="OVEN_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INT64 = 2**63 - 1


DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(data: Any) -> bytes:
    return yaml.dump(data, Dumper=DUMPER, allow_unicode=True, sort_keys=False).encode("utf-8")


def load(job: bytes, oven: bytes | None = None) -> DesiredState:
    files = {"jobs/fuzz.yaml": job}
    if oven is not None:
        files["oven.yaml"] = oven
    state = load_tree(files, "rev", (ALLOWED,))
    for problem in state.problems:
        assert "\n" not in str(problem) and str(problem).isprintable(), problem
        assert problem.line >= 1
    return state


def run_daemon_paths(state: DesiredState, data: st.DataObject) -> None:
    """Everything the daemon and the CLI do with a loaded job, at a drawn moment."""
    now = data.draw(instants(), label="now")
    result = plan(None, state, now)
    format_plan(result)
    format_plan(plan(state, state, now))
    for job in state.jobs.values():
        describe(job.schedule)
        fire_queries(job, now, data)
        decisions(job, now, data)
        words(job, now, data)
        container_request(job, now, data)


def fire_queries(job: JobSpec, now: datetime, data: st.DataObject) -> None:
    schedule = job.schedule
    after = now - timedelta(seconds=data.draw(st.integers(0, 400 * 86_400), label="window"))
    following = next_fire(schedule, now)
    assert following is None or following > now
    previous = previous_fire(schedule, now)
    assert previous is None or previous <= now
    times = fires_between(schedule, after, now, limit=50)
    assert times == sorted(times) and all(after < t <= now for t in times)
    count_fires_between(schedule, after, now, cap=100)
    recent_fires(schedule, after, now, 5)


def decisions(job: JobSpec, now: datetime, data: st.DataObject) -> None:
    """Three decisions in a row, each starting from what the last one recorded."""
    recent = st.integers(0, 2 * 86_400)  # mostly a running daemon; sometimes years of downtime
    back = data.draw(
        st.one_of(recent, recent, recent, st.integers(0, 3 * 366 * 86_400)),
        label="applied seconds ago",
    )
    created = max(now - timedelta(seconds=back), datetime(1970, 1, 1, tzinfo=UTC))
    last = data.draw(st.one_of(st.none(), st.just(created)), label="last scheduled")
    active = data.draw(st.integers(0, 2), label="active runs")
    for _ in range(3):
        decision = decide(job, last, created, active, now)
        for start in decision.starts:
            assert start <= now
            scheduled_run_id(job.id, start)
        if decision.record_until is None or decision.record_until == last:
            break
        last = decision.record_until
        if decision.next_wakeup is not None:
            now = max(now, decision.next_wakeup)


def words(job: JobSpec, now: datetime, data: st.DataObject) -> None:
    active = data.draw(st.integers(0, 2), label="explain active")
    format_explain(explain(job, now, active=active))
    format_next(job, next_fire_times(job, 5, now))


def container_request(job: JobSpec, now: datetime, data: st.DataObject) -> None:
    """The request the dispatcher builds, and what every executor converts from it."""
    run_id = scheduled_run_id(job.id, now)
    record = RunRecord(run_id, job.id, "schedule", "queued", scheduled_for=now)
    secrets = {name: "s3cret-value" for name in job.secrets}
    try:
        request = build_request(job, record, secrets)
    except NotRunnable:
        assert job.type == "agent-pipeline"
        return
    container_name(request.run_id)
    volumes.parse_all(request.volumes)
    if request.memory is not None:
        assert 0 < limits.memory_bytes(request.memory) <= min(MAX_MEMORY, INT64)
    if request.cpus is not None:
        assert 10**7 <= limits.nano_cpus(request.cpus) <= INT64
    for attempt in range(2, job.retries.limit + 2):
        delay = retry_delay(job.retries.backoff, attempt, run_id)
        assert now + timedelta(seconds=delay) > now - timedelta(seconds=1)
        retry_run_id(run_id, attempt)


@pytest.mark.parametrize("mode", ["valid", "edge"])
@FUZZ
@given(data=st.data())
def test_valid_manifests_load_and_run(mode: str, data: st.DataObject) -> None:
    job = data.draw(manifests(mode), label="job")
    oven = data.draw(oven_settings(mode), label="oven.yaml")
    state = load(dump(job), dump(oven))
    assert [str(p) for p in state.problems] == [], job
    assert list(state.jobs) == [job["id"]]
    run_daemon_paths(state, data)


@FUZZ
@given(data=st.data())
def test_anything_in_any_field_is_a_problem_or_runs(data: st.DataObject) -> None:
    job = data.draw(manifests("chaos"), label="job")
    oven = data.draw(
        st.one_of(st.none(), oven_settings("valid"), oven_settings("chaos")), label="oven.yaml"
    )
    state = load(dump(job), None if oven is None else dump(oven))
    run_daemon_paths(state, data)


VALID_TEXTS = [
    "id: a\nname: A\ntype: docker\nimage: busybox\nschedule: {type: interval, every: 5m}\n"
    "policy: {startingDeadline: 600, maxCatchUp: 3, missed: all}\nretries: {limit: 2}\n"
    "resources: {memory: 512m, cpus: 0.5, timeout: 60}\nvolumes: ['cache:/cache']\n",
    "id: b\nname: B\ntype: docker\nimage: busybox\nschedule:\n  type: cron\n  cron: '30 2 * * *'\n"
    "  timezone: Europe/Berlin\nenv:\n  A: 'x'\nsecrets: [TOKEN]\n",
    "id: c\nname: C\ntype: docker\nimage: busybox\nschedule:\n  type: once\n"
    "  at: 2026-03-29T02:30:00+01:00\n",
]


@FUZZ
@given(data=st.data())
def test_raw_yaml_noise_is_a_problem_or_runs(data: st.DataObject) -> None:
    text = data.draw(yaml_noise(VALID_TEXTS), label="file")
    state = load(text)
    run_daemon_paths(state, data)


def test_the_noise_seeds_are_valid() -> None:
    """The mangled-file strategy starts from manifests that load, so one line decides."""
    for text in VALID_TEXTS:
        assert load(text.encode()).problems == ()
