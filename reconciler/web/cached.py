"""Answers made once per read-model version and served as bytes, with ETag and gzip.

A page or feed that depends only on the snapshot (and on its own query) is the same for
every request until the reconciler publishes a new version; with 1k jobs the overview, the
jobs API and the live feed are 100–800 KB each. ``answer`` renders such a body once per
version and query (in ``Snapshot.derived``), hashes it once for its ``ETag`` and compresses it
once for clients that accept gzip, so a request for an unchanged version costs a dictionary
look-up and a send. A client that sends the ETag back (``If-None-Match``) gets ``304 Not
Modified`` without a body: the pages' script revalidates its feed this way.

Cached answers say ``Cache-Control: private, no-cache`` (a browser may keep them but must ask again
before each use, so nothing stale is ever shown) instead of the app's default ``no-store``.
Only answers whose keys are bounded are cached here (a few per version), never one per
run id, so memory does not grow with what clients ask.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from reconciler.status.view import Snapshot

MAX_ANSWERS = 256  # answers cached per version; more (odd queries) are made per request
GZIP_MIN_BYTES = 1024  # smaller bodies are sent as they are
GZIP_LEVEL = 6
CACHE_CONTROL = "private, no-cache"
T = TypeVar("T")


class Body:
    """One rendered answer: its bytes, media type and ETag; gzipped on first demand."""

    def __init__(self, data: bytes, media_type: str) -> None:
        self.data = data
        self.media_type = media_type
        digest = hashlib.blake2b(data, digest_size=12).hexdigest()
        self.etag = f'"{digest}"'
        self._gzipped: bytes | None = None
        self._lock = threading.Lock()

    def gzipped(self) -> bytes:
        with self._lock:  # several clients at once compress it once
            if self._gzipped is None:
                self._gzipped = gzip.compress(self.data, GZIP_LEVEL, mtime=0)
            return self._gzipped


class Keep:
    """Values kept across versions while what they were made from stays the same objects.

    The reconciler publishes a version every tick (its heartbeat moves), but the job
    summaries (``Snapshot.jobs``) and the runs stay the same objects until one changes, so
    what is made from them alone (the jobs' JSON, the per-job metrics) is kept by key and
    checked by identity of its inputs. At most ``size`` keys, the least recently used go."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._kept: OrderedDict[str, tuple[tuple[Any, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, inputs: tuple[Any, ...], make: Callable[[], T]) -> T:
        with self._lock:
            found = self._kept.get(key)
            if found is not None and _same(found[0], inputs):
                self._kept.move_to_end(key)
                value: T = found[1]
                return value
        value = make()  # outside the lock: a race makes it twice, harmlessly
        with self._lock:
            self._kept[key] = (inputs, value)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return value


def _same(before: tuple[Any, ...], now: tuple[Any, ...]) -> bool:
    return len(before) == len(now) and all(
        a is b or (type(a) in (int, str, float, type(None)) and a == b)
        for a, b in zip(before, now, strict=True)
    )


def body(snapshot: Snapshot, key: str, make: Callable[[], tuple[bytes, str]]) -> Body:
    """The answer ``key`` for this version: ``make()`` (bytes, media type) once per version
    (at most ``MAX_ANSWERS`` keys a version; beyond that each request makes its own)."""
    answers: dict[str, Body] = snapshot.derived("answers", dict)
    found = answers.get(key)
    if found is None:
        found = Body(*make())
        if len(answers) < MAX_ANSWERS:
            answers[key] = found
    return found


def answer(request: Request, found: Body, status_code: int = 200) -> Response:
    """``found`` as a response: 304 when the client holds it, gzipped when it accepts gzip."""
    headers = {"ETag": found.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if status_code == 200 and _holds(request.headers.get("if-none-match", ""), found.etag):
        return Response(status_code=304, headers=headers)
    data = found.data
    if len(data) >= GZIP_MIN_BYTES and _accepts_gzip(request.headers.get("accept-encoding", "")):
        data = found.gzipped()
        headers["Content-Encoding"] = "gzip"
    return Response(data, status_code=status_code, media_type=found.media_type, headers=headers)


def _holds(if_none_match: str, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and _zero(q[2:]))
    return False


def _zero(text: str) -> bool:
    try:
        return float(text) == 0.0
    except ValueError:
        return False
