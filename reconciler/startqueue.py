"""Starts that outlive the tick: a bounded pool of container starts, collected when done.

The schedule step decides, hands each start to ``StartQueue.submit`` and goes on; a start
that takes seconds (a loaded engine) keeps no other job's fire waiting. The next tick (or the
wake-up ``on_done`` asks for) takes the finished ones with ``collect``, each exactly once, in
the order they were submitted. A key (the run id) is in the queue from ``submit`` until
``collect`` hands its outcome back, so the caller can tell "starting" from "never asked".

No I/O of its own: ``start`` is whatever the caller passes (the executor's start).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

T = TypeVar("T")  # what the caller keeps with a start
R = TypeVar("R")  # what a start returns


class StartQueue(Generic[T, R]):
    def __init__(self, workers: int, on_done: Callable[[], object] | None = None) -> None:
        """``workers``: starts at once; ``on_done``: called (on the worker thread) when a start
        ends, e.g. to wake the daemon's loop so it collects it."""
        self.workers = max(1, workers)
        self.on_done = on_done
        self._pool: ThreadPoolExecutor | None = None  # made on the first start
        self._flight: dict[str, tuple[T, Future[R]]] = {}  # key -> item, in submission order

    def submit(self, key: str, item: T, start: Callable[[], R]) -> None:
        """Start ``start()`` on a worker; ValueError if ``key`` is still in the queue."""
        if key in self._flight:
            raise ValueError(f"{key} is already starting")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="oven-start")
        future = self._pool.submit(start)
        self._flight[key] = (item, future)
        future.add_done_callback(self._ended)

    def _ended(self, _future: Future[R]) -> None:
        if self.on_done is not None:
            self.on_done()

    def __contains__(self, key: object) -> bool:
        return key in self._flight

    def __len__(self) -> int:
        return len(self._flight)

    def items(self) -> list[T]:
        """What was submitted and not collected yet (started or still starting)."""
        return [item for item, _ in self._flight.values()]

    def collect(
        self, timeout: float | None = 0.0, keys: Collection[str] | None = None
    ) -> list[tuple[T, R | BaseException]]:
        """The starts that ended, each once, in the order submitted: what each returned or
        raised. Waits first up to ``timeout`` seconds (None: no limit) for the starts of
        ``keys`` (None: every start in the queue) to end."""
        if not self._flight:
            return []
        if timeout is None or timeout > 0:
            waited = (
                self._flight
                if keys is None
                else {k: self._flight[k] for k in keys if k in self._flight}
            )
            wait([future for _, future in waited.values()], timeout=timeout)
        ended: list[tuple[T, R | BaseException]] = []
        for key, (item, future) in list(self._flight.items()):
            if not future.done():
                continue
            del self._flight[key]
            error = future.exception()
            ended.append((item, error if error is not None else future.result()))
        return ended


__all__ = ["StartQueue"]
