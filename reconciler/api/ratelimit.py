"""A token bucket per API token: ``burst`` requests at once, then ``per_minute`` a minute.

Pure apart from the clock it is given (``time.monotonic`` in the daemon), so tests drive it
with a fake clock. ``take`` answers 0 when a request may go ahead, else the seconds until one
may (the ``Retry-After`` of a 429).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_PER_MINUTE = 60.0
DEFAULT_BURST = 10


@dataclass
class _Bucket:
    tokens: float
    at: float  # clock reading of the last refill


class RateLimiter:
    def __init__(
        self,
        per_minute: float = DEFAULT_PER_MINUTE,
        burst: int = DEFAULT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a rate limit needs per_minute > 0 and burst >= 1")
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """0 if ``key`` may make a request now (and counts it), else whole seconds to wait."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0
            return max(1, math.ceil((1 - bucket.tokens) / self.rate))
