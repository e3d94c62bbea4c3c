"""The start queue on its own: starts outlive the call that asked for them, each outcome is
handed back exactly once, in the order submitted, and a key is "starting" until then."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.startqueue import StartQueue


def test_collect_hands_back_each_ended_start_once_in_submission_order() -> None:
    queue: StartQueue[str, int] = StartQueue(4)
    gate = threading.Event()

    def slow() -> int:
        assert gate.wait(5)
        return 2

    queue.submit("a", "first", lambda: 1)
    queue.submit("b", "second", slow)
    queue.submit("c", "third", lambda: 3)
    queue.collect(timeout=None, keys=["a", "c"])  # both ended; "b" is still starting
    assert "b" in queue and "a" not in queue and "c" not in queue
    assert queue.items() == ["second"]
    gate.set()
    assert queue.collect(timeout=None) == [("second", 2)]
    assert queue.collect(timeout=None) == [] and len(queue) == 0


def test_collect_without_waiting_returns_only_what_ended() -> None:
    queue: StartQueue[str, int] = StartQueue(2)
    gate = threading.Event()
    ended = threading.Event()
    queue.on_done = ended.set
    queue.submit("slow", "s", lambda: int(gate.wait(5)))
    assert queue.collect(0.0) == []  # never blocks on a start still going
    assert queue.collect(0.01) == []  # waits at most the timeout
    gate.set()
    assert ended.wait(5)  # the owner is told a start ended ...
    assert queue.collect(0.0) == [("s", 1)]  # ... and collects it


def test_a_raising_start_is_handed_back_as_its_exception() -> None:
    queue: StartQueue[str, int] = StartQueue(1)
    boom = RuntimeError("engine said no")

    def fails() -> int:
        raise boom

    queue.submit("x", "item", fails)
    assert queue.collect(None) == [("item", boom)]


def test_a_key_still_in_the_queue_cannot_be_submitted_again() -> None:
    queue: StartQueue[str, int] = StartQueue(1)
    gate = threading.Event()
    queue.submit("run-1", "a", lambda: int(gate.wait(5)))
    with pytest.raises(ValueError, match="run-1 is already starting"):
        queue.submit("run-1", "b", lambda: 0)
    gate.set()
    assert queue.collect(None) == [("a", 1)]
    queue.submit("run-1", "c", lambda: 0)  # collected: the key is free again
    assert queue.collect(None) == [("c", 0)]


def test_at_most_workers_starts_run_at_once() -> None:
    queue: StartQueue[int, int] = StartQueue(3)
    lock, running, most = threading.Lock(), [0], [0]
    release = threading.Event()

    def start() -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        assert release.wait(10)
        with lock:
            running[0] -= 1
        return 0

    for n in range(10):
        queue.submit(f"k{n}", n, start)
    # the starts hold until released, so all three workers are in one at once however late
    # the machine runs their threads (a start of a fixed 50 ms could end before the third
    # thread ran at all); the tenth of a second lets a fourth worker, were there one, join in
    deadline = time.monotonic() + 10
    while running[0] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    release.set()
    ended = queue.collect(None)
    assert [item for item, _ in ended] == list(range(10))
    assert most[0] == 3
