"""Requests from outside the schedule (manual triggers, backfills, cancels, retries), as files.

``oven trigger``, ``oven backfill``, ``oven cancel``, ``oven retry`` and the write API
(``reconciler/api``) drop a JSON file into ``<state-dir>/requests/``; the daemon takes them up
on its next tick. A request is deleted only once every run it asks for
exists, and every run id is derived from the request (idempotency key or nominal time), so a
request taken up twice still starts each run once.

A request the daemon cannot use — not JSON, not an object, an unknown ``kind``, no job id, bad
times, a job the config does not have — is moved to ``requests/rejected/`` next to a
``<name>.reason`` file saying why, and never read again. The daemon also writes the job ids of
the revision it runs to ``<state-dir>/requests/known-jobs`` so ``oven trigger`` can refuse an
unknown job at once.

A manual run's id is known when it is requested (``runids.manual_run_id`` of its key), and
``submit_manual`` creates ``requests/keys/<run id>`` exclusively: the second request with the
same key finds it and is told so (``Submitted.new`` is False) instead of spooling again.
A ``cancel`` or ``retry`` request names the run it is about (``run_id``); a retry also names the
run it starts (``target``: the next attempt), so its id is known before the daemon starts it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.clock import iso, utc
from reconciler.errors import UsageError
from reconciler.runids import manual_run_id

log = logging.getLogger("oven")

KINDS = ("manual", "backfill", "cancel", "retry")
TRIGGERS = ("manual", "webhook")  # what a manual request's run records as its trigger
KEYS = "keys"  # requests/keys/<run id>: a manual run already requested
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,250}")  # a Docker container name's characters
KNOWN_JOBS = "known-jobs"  # one job id a line, after a "# revision <sha>" line
MAX_REQUEST_BYTES = 64 * 1024  # a request is a few hundred bytes; larger files are rejected


class BadRequest(ValueError):
    """A request file the daemon cannot use; the message is the reason written next to it."""


@dataclass(frozen=True)
class RunRequestFile:
    """One spooled request. ``kind`` is manual, backfill, cancel or retry."""

    path: Path
    kind: str
    job_id: str
    idempotency_key: str | None = None
    window: tuple[datetime, datetime] | None = None
    run_id: str | None = None  # cancel, retry: the run it is about
    target: str | None = None  # retry: the id of the attempt it starts
    trigger: str = "manual"  # manual: manual (CLI) or webhook (write API)
    requested_by: str | None = None  # who asked (a token's name), for the log


@dataclass(frozen=True)
class Submitted:
    """A manual run request: the run it starts, and whether this call spooled it."""

    run_id: str
    key: str
    new: bool  # False: the same key was requested before; nothing was spooled


@dataclass(frozen=True)
class KnownJobs:
    """The job ids of the revision the daemon last applied."""

    revision: str
    job_ids: tuple[str, ...]


class RequestSpool:
    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir / "requests"
        self.rejected = self.directory / "rejected"

    def submit_manual(
        self,
        job_id: str,
        idempotency_key: str | None,
        *,
        trigger: str = "manual",
        requested_by: str | None = None,
    ) -> Submitted:
        """Spool a manual run, once per key; ``Submitted.new`` is False for a repeated key."""
        if not RUN_ID.fullmatch(job_id):
            raise UsageError(f"not a job id: {job_id!r}", hint="the job's id: field names it")
        key = idempotency_key or secrets.token_hex(8)
        run_id = manual_run_id(job_id, key, datetime.now(UTC))
        if not self._claim(run_id):
            return Submitted(run_id, key, new=False)
        data = {"kind": "manual", "job_id": job_id, "idempotency_key": key, "trigger": trigger}
        self._write({**data, **_by(requested_by)})
        return Submitted(run_id, key, new=True)

    def submit_cancel(self, job_id: str, run_id: str, requested_by: str | None = None) -> None:
        self._write({"kind": "cancel", "job_id": job_id, "run_id": run_id, **_by(requested_by)})

    def submit_retry(
        self, job_id: str, run_id: str, target: str, requested_by: str | None = None
    ) -> bool:
        """Spool a retry of ``run_id`` starting ``target``; False if that was requested before."""
        if not self._claim(target):
            return False
        data = {"kind": "retry", "job_id": job_id, "run_id": run_id, "target": target}
        self._write({**data, **_by(requested_by)})
        return True

    def _claim(self, run_id: str) -> bool:
        """Create ``keys/<run_id>``; False if it exists (that run was requested already)."""
        if not RUN_ID.fullmatch(run_id):
            raise UsageError(
                f"not a run id: {run_id!r}",
                hint="run ids are letters, digits, '.', '_' and '-' (oven status lists them)",
            )
        keys = self.directory / KEYS
        keys.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(keys / run_id, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        os.close(fd)
        return True

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


def _by(requested_by: str | None) -> dict[str, str]:
    return {"requested_by": requested_by} if requested_by else {}


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
    if kind in ("cancel", "retry") and job_id is None:
        job_id = ""  # a local ``oven cancel RUN`` does not know the job; the run says it
    if not isinstance(job_id, str) or not (job_id or kind in ("cancel", "retry")):
        raise BadRequest("job_id is missing or not a string")
    key = data.get("idempotency_key")
    if key is not None and not isinstance(key, str):
        raise BadRequest("idempotency_key is not a string")
    window = _window(data) if kind == "backfill" else None
    run_id = _text(data, "run_id", required=kind in ("cancel", "retry"))
    target = _text(data, "target", required=kind == "retry")
    trigger = data.get("trigger", "manual")
    if trigger not in TRIGGERS:
        raise BadRequest(f"trigger {trigger!r} is not one of {', '.join(TRIGGERS)}")
    by = _text(data, "requested_by", required=False)
    return RunRequestFile(path, kind, job_id, key, window, run_id, target, trigger, by)


def _text(data: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key} is missing or not a string")
    return value


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
