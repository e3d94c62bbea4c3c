"""When a failing group of cycle steps may try again (pure).

A step that fails is not retried every tick: after its first failure it tries again on the
next tick (one hiccup costs nothing), after the n-th consecutive failure (n >= 2) it waits
``base * 2^(n-2)`` seconds with the same deterministic jitter as run retries
(``decide.retry_delay``), never longer than ``cap`` (the fetch interval). An error that is not
transient (``OvenError.transient`` False: bad credentials, an unusable config) waits ``cap``
at once: trying sooner cannot help, and ``Stalled=True`` tells a person to act.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.decide import retry_delay
from reconciler.errors import OvenError

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """The retry state of one group of steps: its last error and when it may run again."""

    name: str
    failures: int = 0
    error: OvenError | None = None
    next_try: datetime | None = None

    def ready(self, now: datetime) -> bool:
        return self.next_try is None or now >= self.next_try

    @property
    def stalled(self) -> bool:
        """The last error needs a person, not another try."""
        return self.error is not None and not self.error.transient

    def failed(self, error: OvenError, now: datetime, *, base: float, cap: float) -> Backoff:
        failures = self.failures + 1
        if not error.transient:
            delay = cap
        else:
            delay = 0.0 if failures == 1 else retry_delay(base, failures, self.name)
        delay = max(min(delay, cap), 0.0)
        return Backoff(self.name, failures, error, now + timedelta(seconds=delay))

    def succeeded(self) -> Backoff:
        return Backoff(self.name)
