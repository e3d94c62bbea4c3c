"""Unexpected exceptions, contained: each becomes an ``UnexpectedError``, logged once, counted.

Whatever raises something that is not an ``OvenError`` — one step of the cycle, one job's
launch, one spooled request, one container to settle, the daemon's tick — hands it to
``Incidents.contain`` and goes on. The traceback is logged the first time a (where, class,
message) is seen, not on every tick; the count per place (a step name) is what ``/metrics``
shows as ``oven_unexpected_errors_total``. A failing step is reported by its group's backoff
until it succeeds again; a bug contained in one job or one request (``hold=True``) leaves the
step itself fine, so ``recent`` keeps the reconciler not Ready for ``HOLD`` after the last such
one, and ``status/reconciler.yaml`` and ``/readyz`` say so.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from reconciler.errors import UnexpectedError

log = logging.getLogger("oven")

HOLD = timedelta(minutes=5)  # Ready stays False this long after the last contained bug
SEEN_LIMIT = 256  # distinct (where, class, message) kept for "log once"; oldest forgotten


class Incidents:
    """Counts of contained unexpected exceptions by step, and the newest one."""

    def __init__(self, steps: tuple[str, ...] = ()) -> None:
        self._lock = threading.Lock()  # ticks run in a worker thread, the loop in another
        self._counts = dict.fromkeys(steps, 0)  # known steps start at 0, so rates work
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self.last: UnexpectedError | None = None
        self.last_at: datetime | None = None

    def contain(
        self, step: str, exc: BaseException, now: datetime, *, where: str = "", hold: bool = True
    ) -> UnexpectedError:
        """Count ``exc`` under ``step``; log its traceback if this one is new. ``where`` names
        the item (a job, a request) in the message; ``hold=False`` when the caller reports the
        error itself (a failed step's backoff), so ``recent`` does not."""
        error = UnexpectedError(f"{step} {where}".strip(), exc)
        key = (error.step, error.cause, str(exc))
        with self._lock:
            self._counts[step] = self._counts.get(step, 0) + 1
            if hold:
                self.last, self.last_at = error, now
            first = key not in self._seen
            self._seen[key] = None
            self._seen.move_to_end(key)
            while len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)
        if first:
            log.error("%s (%s); traceback:", error.message, error.hint, exc_info=exc)
        return error

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def recent(self, now: datetime) -> UnexpectedError | None:
        """The newest contained error if it happened less than ``HOLD`` ago."""
        with self._lock:
            if self.last_at is None or now - self.last_at >= HOLD:
                return None
            return self.last
