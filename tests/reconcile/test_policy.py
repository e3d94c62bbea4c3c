"""Errors with policy: failing steps back off, non-transient errors stall, nothing is lost.

The daemon loop (``loop.tick_forever``) is driven with a FakeClock and a ``wait`` that moves
it, so ten minutes of an engine outage take milliseconds and every attempt is counted.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.backoff import Backoff
from reconciler.clock import FakeClock
from reconciler.errors import AuthError, EngineUnavailable, LedgerError, SourceError
from reconciler.executors.memory import MemoryEngine, MemoryExecutor
from reconciler.interfaces import ObservedRun
from reconciler.ledger.memory import MemoryLedger
from reconciler.loop import tick_forever
from reconciler.reconcile import Reconciler
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.source.memory import MemorySource
from reconciler.status import load_yaml

T0 = datetime(2026, 11, 22, 0, 0, 0, tzinfo=UTC)
JOB = yaml.safe_dump(
    {
        "id": "tick",
        "name": "tick",
        "type": "docker",
        "image": "busybox",
        "command": ["true"],
        "schedule": {"type": "interval", "every": "10s"},
    }
)


class CountingExecutor(MemoryExecutor):
    """The memory executor, noting the fake time of every ``observe`` call."""

    def __init__(self, engine: MemoryEngine, state_dir: Path, clock: FakeClock) -> None:
        super().__init__(engine, state_dir=state_dir, instance="t")
        self.clock, self.calls = clock, []  # type: ignore[var-annotated]

    def observe(self) -> list[ObservedRun]:
        self.calls.append(self.clock.now())
        return super().observe()


def make(tmp_path: Path, **settings: Any) -> tuple[Reconciler, FakeClock, Any]:
    clock = FakeClock(T0)
    engine = MemoryEngine(clock)
    source = MemorySource()
    source.commit({"jobs/tick.yaml": JOB})
    reconciler = Reconciler(
        Settings(repo="memory", state_dir=tmp_path, heartbeat=3600, **settings),
        source=source,
        executor=CountingExecutor(engine, tmp_path, clock),
        ledger=MemoryLedger(),
        clock=clock,
    )
    return reconciler, clock, engine


def run_loop_for(reconciler: Reconciler, seconds: float, settings: Settings) -> None:
    """Run the daemon loop on fake time until ``seconds`` of it have passed."""
    clock: FakeClock = reconciler.clock  # type: ignore[assignment]
    end = clock.now() + timedelta(seconds=seconds)

    async def fake_wait(pause: float, stop: asyncio.Event, wake: asyncio.Event) -> None:
        clock.advance(pause)
        if clock.now() >= end:
            stop.set()

    async def main() -> None:
        await tick_forever(reconciler, settings, asyncio.Event(), asyncio.Event(), fake_wait)

    asyncio.run(main())


def condition(reconciler: Reconciler, kind: str) -> dict[str, Any]:
    conditions = reconciler.snapshot.reconciler["conditions"]
    return next(c for c in conditions if c["type"] == kind)


def committed_condition(ledger: MemoryLedger, kind: str) -> dict[str, Any]:
    status = load_yaml(ledger.read()["status/reconciler.yaml"])
    return next(c for c in status["conditions"] if c["type"] == kind)


# -- the backoff rule ---------------------------------------------------------------------


def test_backoff_retries_on_the_next_tick_then_doubles_up_to_the_cap() -> None:
    state, gaps = Backoff("cycle"), []
    for _ in range(9):
        state = state.failed(EngineUnavailable("down"), T0, base=1.0, cap=30.0)
        assert state.next_try is not None
        gaps.append((state.next_try - T0).total_seconds())
    assert gaps[0] == 0.0, "one hiccup is retried at once"
    assert [round(g) for g in gaps[1:6]] == [1, 2, 4, 8, 16]
    assert gaps[6:] == [30.0, 30.0, 30.0], "never longer than the cap"
    assert all(1.0 <= g / 2 ** (i - 1) < 1.1 for i, g in enumerate(gaps[1:6], start=1))
    assert not state.stalled and state.succeeded() == Backoff("cycle")


def test_jitter_is_deterministic_and_differs_between_groups() -> None:
    def gap(name: str) -> float:
        state = Backoff(name)
        for _ in range(3):
            state = state.failed(SourceError("x"), T0, base=1.0, cap=30.0)
        return (state.next_try - T0).total_seconds()  # type: ignore[operator]

    assert gap("sync") == gap("sync")
    assert gap("sync") != gap("record")


def test_a_non_transient_error_waits_the_cap_at_once_and_stalls() -> None:
    state = Backoff("sync").failed(AuthError("denied"), T0, base=1.0, cap=30.0)
    assert state.stalled
    assert state.next_try == T0 + timedelta(seconds=30)
    assert not state.ready(T0 + timedelta(seconds=29)) and state.ready(T0 + timedelta(seconds=30))


# -- the daemon under outages ---------------------------------------------------------------


def test_the_engine_down_for_ten_minutes_gives_bounded_growing_attempts_and_no_stall(
    tmp_path: Path,
) -> None:
    reconciler, clock, engine = make(tmp_path)
    settings = reconciler.settings
    engine.available = False
    run_loop_for(reconciler, 600, settings)
    calls = reconciler.executor.calls  # type: ignore[attr-defined]
    gaps = [(b - a).total_seconds() for a, b in zip(calls, calls[1:], strict=False)]
    # 1 s ticks would mean 600 attempts; backoff capped at the 30 s interval means about 25
    assert 15 <= len(calls) <= 30, len(calls)
    assert gaps[2:7] == sorted(gaps[2:7]) and gaps[6] >= 8 * gaps[2] / 2, gaps
    assert max(gaps) <= settings.interval + settings.tick, "capped at the fetch interval"
    assert condition(reconciler, "Ready")["reason"] == "EngineUnavailable"
    assert condition(reconciler, "Stalled")["status"] == "False"
    assert committed_condition(reconciler.ledger, "Stalled")["status"] == "False"  # type: ignore[arg-type]

    engine.available = True  # the engine comes back: the next attempt succeeds, no more backoff
    run_loop_for(reconciler, 60, settings)
    assert reconciler.backoff["cycle"] == Backoff("cycle")
    assert condition(reconciler, "Ready")["status"] == "True"
    assert any(o.is_running for o in reconciler.executor.observe()), "runs start again"


def test_an_access_error_sets_stalled_true_and_keeps_the_jobs_running(tmp_path: Path) -> None:
    reconciler, clock, _ = make(tmp_path)
    reconciler.tick(fetch=True)  # the config is loaded once
    source: MemorySource = reconciler.source  # type: ignore[assignment]
    source.fail_with = AuthError("cannot fetch git remote x: access denied", hint="fix the token")
    for _ in range(60):
        clock.advance(1)
        reconciler.tick(fetch=True)
    assert condition(reconciler, "Stalled") | {"last_transition": None} == {
        "type": "Stalled",
        "status": "True",
        "reason": "AuthError",
        "message": "cannot fetch git remote x: access denied (hint: fix the token)",
        "last_transition": None,
    }
    assert committed_condition(reconciler.ledger, "Stalled")["status"] == "True"  # type: ignore[arg-type]
    assert reconciler.backoff["sync"].failures <= 3, "a stalled fetch is tried at the slowest pace"
    started = [r.scheduled_for for r in reconciler.book.runs.values()]
    assert started and min(started) > T0 + timedelta(seconds=1), "last good jobs still start"


class Unauthorized(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def unauthorized_remote() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/config.git"
    server.shutdown()
    server.server_close()


def test_a_remote_answering_401_is_an_access_error_that_stalls(
    tmp_path: Path, unauthorized_remote: str
) -> None:
    source = GitSource(unauthorized_remote, "main", tmp_path / "state")
    with pytest.raises(AuthError) as raised:
        source.fetch()
    assert "access denied" in raised.value.message and not raised.value.transient
    clock = FakeClock(T0)
    reconciler = Reconciler(
        Settings(repo=unauthorized_remote, state_dir=tmp_path, heartbeat=3600),
        source=source,
        executor=MemoryExecutor(MemoryEngine(clock), state_dir=tmp_path, instance="t"),
        ledger=MemoryLedger(),
        clock=clock,
    )
    reconciler.tick(fetch=True)
    assert condition(reconciler, "Stalled")["status"] == "True"
    assert condition(reconciler, "Ready")["reason"] == "AuthError"


# -- a failed status commit loses nothing ------------------------------------------------------


def test_a_failed_commit_keeps_the_runs_it_would_forget_until_the_next_commit(
    tmp_path: Path,
) -> None:
    reconciler, clock, _ = make(tmp_path, keep_runs=2)
    executor: MemoryExecutor = reconciler.executor  # type: ignore[assignment]
    ledger: MemoryLedger = reconciler.ledger  # type: ignore[assignment]
    reconciler.tick(fetch=True)
    finished: list[str] = []
    for _ in range(2):  # two runs, both finished and committed: nothing pruned yet
        clock.advance(10)
        reconciler.tick()
        run_id = next(o.run_id for o in executor.observe() if o.is_running)
        executor.finish(run_id, 0)
        clock.advance(1)
        reconciler.tick()
        finished.append(run_id)
    oldest = finished[0]
    path = f"status/runs/tick/{oldest}.yaml"
    assert path in ledger.read()

    ledger.attempts = 0  # the status remote starts refusing commits
    clock.advance(9)
    reconciler.tick()  # a third run starts: the oldest one falls out of keep_runs=2 ...
    assert oldest in reconciler.book.runs, "... but is not forgotten: its deletion failed"
    third = next(o.run_id for o in executor.observe() if o.is_running)
    executor.finish(third, 0)
    clock.advance(1)
    reconciler.tick()
    assert oldest in reconciler.book.runs, "not forgotten before a commit went through"
    assert path in ledger.read()
    assert condition(reconciler, "Ready")["reason"] == "LedgerError"

    ledger.attempts = 5
    clock.advance(2)  # past the record step's backoff
    reconciler.tick()
    assert reconciler.backoff["record"] == Backoff("record")
    assert oldest not in reconciler.book.runs, "forgotten once the commit went through"
    assert path not in ledger.read()
    kept = {p for p in ledger.read() if p.startswith("status/runs/tick/")}
    assert kept == {f"status/runs/tick/{r}.yaml" for r in (finished[1], third)}


def test_the_record_step_backs_off_while_the_ledger_fails(tmp_path: Path) -> None:
    reconciler, clock, _ = make(tmp_path)
    ledger: MemoryLedger = reconciler.ledger  # type: ignore[assignment]
    writes = []
    real_write = ledger.write

    def counting_write(files: Any, message: str) -> Any:
        writes.append(clock.now())
        if ledger.attempts == 0:
            raise LedgerError("the status remote is down")
        return real_write(files, message)

    ledger.write = counting_write  # type: ignore[method-assign]
    ledger.attempts = 0
    for _ in range(300):
        reconciler.tick(fetch=False)
        clock.advance(1)
    assert 8 <= len(writes) <= 20, f"{len(writes)} pushes in 5 minutes of an outage"
    assert condition(reconciler, "Stalled")["status"] == "False"
