"""Run requests from outside the schedule (manual triggers, backfills), spooled as files.

``oven trigger`` and ``oven backfill`` drop a JSON file into ``<state-dir>/requests/``; the
daemon takes them up on its next tick. A request is deleted only once every run it asks for
exists, and every run id is derived from the request (idempotency key or nominal time), so a
request taken up twice still starts each run once.

A request the daemon cannot use — not JSON, not an object, an unknown ``kind``, no job id, bad
times, a job the config does not have — is moved to ``requests/rejected/`` next to a
``<name>.reason`` file saying why, and never read again. The daemon also writes the job ids of
the revision it runs to ``<state-dir>/requests/known-jobs`` so ``oven trigger`` can refuse an
unknown job at once.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.clock import iso, utc
from reconciler.errors import UsageError

log = logging.getLogger("oven")

KINDS = ("manual", "backfill")
KNOWN_JOBS = "known-jobs"  # one job id a line, after a "# revision <sha>" line
MAX_REQUEST_BYTES = 64 * 1024  # a request is a few hundred bytes; larger files are rejected


class BadRequest(ValueError):
    """A request file the daemon cannot use; the message is the reason written next to it."""


@dataclass(frozen=True)
class RunRequestFile:
    """One spooled request. ``kind`` is manual or backfill."""

    path: Path
    kind: str
    job_id: str
    idempotency_key: str | None = None
    window: tuple[datetime, datetime] | None = None


@dataclass(frozen=True)
class KnownJobs:
    """The job ids of the revision the daemon last applied."""

    revision: str
    job_ids: tuple[str, ...]


class RequestSpool:
    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir / "requests"
        self.rejected = self.directory / "rejected"

    def submit_manual(self, job_id: str, idempotency_key: str | None) -> str:
        key = idempotency_key or secrets.token_hex(8)
        self._write({"kind": "manual", "job_id": job_id, "idempotency_key": key})
        return key

    def submit_backfill(self, job_id: str, start: datetime, end: datetime) -> None:
        if end < start:
            raise UsageError("--to is before --from", hint="give the window oldest time first")
        self._write({"kind": "backfill", "job_id": job_id, "from": iso(start), "to": iso(end)})

    def pending(self) -> list[RunRequestFile]:
        """Every usable request, oldest first; unusable ones are moved to ``rejected/``."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                found.append(read_request(path))
            except BadRequest as exc:
                self.reject(path, str(exc))
        return found

    def done(self, request: RunRequestFile) -> None:
        request.path.unlink(missing_ok=True)

    def reject(self, path: Path, reason: str) -> None:
        """Move a request to ``rejected/`` with a ``.reason`` file; it is never read again."""
        log.warning("request %s rejected: %s", path.name, reason)
        try:
            self.rejected.mkdir(parents=True, exist_ok=True)
            (self.rejected / f"{path.stem}.reason").write_text(reason + "\n")
            os.replace(path, self.rejected / path.name)
        except OSError as exc:
            log.error("cannot move request %s to %s (%s); deleting it", path, self.rejected, exc)
            path.unlink(missing_ok=True)

    def publish_jobs(self, job_ids: Sequence[str], revision: str) -> None:
        """Write the job ids the daemon runs, for ``oven trigger`` to check against."""
        self.directory.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{job_id}\n" for job_id in job_ids)
        _write_atomic(self.directory / KNOWN_JOBS, f"# revision {revision}\n{text}")

    def known_jobs(self) -> KnownJobs | None:
        """What the daemon last published; None if it never did (or the file is unreadable)."""
        try:
            lines = (self.directory / KNOWN_JOBS).read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        revision = lines[0].removeprefix("# revision ").strip() if lines else ""
        return KnownJobs(revision, tuple(line for line in lines[1:] if line))

    def _write(self, data: dict[str, str | None]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}-{secrets.token_hex(4)}"
        _write_atomic(self.directory / f"{name}.json", json.dumps(data))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_request(path: Path) -> RunRequestFile:
    """Parse one request file; ``BadRequest`` says why it cannot be used."""
    try:
        if path.stat().st_size > MAX_REQUEST_BYTES:
            raise BadRequest(f"larger than {MAX_REQUEST_BYTES} bytes")
        data = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(f"cannot read it: {exc}") from exc
    except ValueError as exc:
        raise BadRequest(f"not JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise BadRequest(f"a request is a JSON object, this is a {type(data).__name__}")
    kind, job_id = data.get("kind"), data.get("job_id")
    if kind not in KINDS:
        raise BadRequest(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if not isinstance(job_id, str) or not job_id:
        raise BadRequest("job_id is missing or not a string")
    key = data.get("idempotency_key")
    if key is not None and not isinstance(key, str):
        raise BadRequest("idempotency_key is not a string")
    window = _window(data) if kind == "backfill" else None
    return RunRequestFile(path, kind, job_id, key, window)


def _window(data: Mapping[str, Any]) -> tuple[datetime, datetime]:
    start, end = _time(data, "from"), _time(data, "to")
    if end < start:
        raise BadRequest(f"'to' ({iso(end)}) is before 'from' ({iso(start)})")
    return start, end


def _time(data: Mapping[str, Any], key: str) -> datetime:
    value = data.get(key)
    if not isinstance(value, str):
        raise BadRequest(f"{key!r} is missing or not a string")
    try:
        return utc(value)
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"{key!r} is not an ISO 8601 time: {value!r}") from exc
