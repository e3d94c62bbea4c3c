"""Run identity: ids derived from what a run *is*, so the same run can never be started twice.

A scheduled run's id is the job id plus its nominal time (second precision, UTC); a backfill run
for the same nominal time gets the same id, so a window is only ever run once. A manual or
webhook run with an idempotency key gets an id derived from the key. Retries append ``-a<N>``.
Ids are valid Docker container names, which the engine keeps unique for us.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Container
from datetime import UTC, datetime

from reconciler.model import RunRecord


def scheduled_run_id(job_id: str, nominal: datetime) -> str:
    return f"{job_id}-{nominal.astimezone(UTC):%Y%m%d-%H%M%S}"


def manual_run_id(job_id: str, idempotency_key: str | None, now: datetime) -> str:
    if idempotency_key:
        digest = hashlib.sha256(f"{job_id}\0{idempotency_key}".encode()).hexdigest()[:12]
        return f"{job_id}-m{digest}"
    return f"{job_id}-m{now.astimezone(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def retry_run_id(first_run_id: str, attempt: int) -> str:
    return f"{first_run_id}-a{attempt}"


_ATTEMPT = re.compile(r"^(?P<root>.+)-a(?P<n>[0-9]+)$")


def next_attempt_id(run_id: str, attempt: int | None = None, retry_of: str | None = None) -> str:
    """The id of the attempt after ``run_id``: from its record (``attempt``, ``retry_of``) when
    known, else read off the id itself (``<root>-a<N>``; without that suffix it is attempt 1)."""
    if attempt is None:
        match = _ATTEMPT.match(run_id)
        root, attempt = (match["root"], int(match["n"])) if match else (run_id, 1)
    else:
        root = retry_of or run_id
    return retry_run_id(root, attempt + 1)


def container_name(run_id: str) -> str:
    return f"oven-{run_id}"


RETRYABLE = frozenset({"failed", "timed_out"})


def retry_pending(record: RunRecord, known: Container[str]) -> bool:
    """A failed attempt whose next attempt is planned but not started (its id not in ``known``)."""
    if record.status not in RETRYABLE or record.next_retry_at is None:
        return False
    root = record.retry_of or record.run_id
    return retry_run_id(root, record.attempt + 1) not in known
