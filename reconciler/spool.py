"""Run requests from outside the schedule (manual triggers, backfills), spooled as files.

``oven trigger`` and ``oven backfill`` drop a JSON file into ``<state-dir>/requests/``; the
daemon takes them up on its next tick. A request is deleted only once every run it asks for
exists, and every run id is derived from the request (idempotency key or nominal time), so a
request taken up twice still starts each run once.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.clock import iso, utc
from reconciler.errors import UsageError


@dataclass(frozen=True)
class RunRequestFile:
    """One spooled request. ``kind`` is manual or backfill."""

    path: Path
    kind: str
    job_id: str
    idempotency_key: str | None = None
    window: tuple[datetime, datetime] | None = None


class RequestSpool:
    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir / "requests"

    def submit_manual(self, job_id: str, idempotency_key: str | None) -> str:
        key = idempotency_key or secrets.token_hex(8)
        self._write({"kind": "manual", "job_id": job_id, "idempotency_key": key})
        return key

    def submit_backfill(self, job_id: str, start: datetime, end: datetime) -> None:
        if end < start:
            raise UsageError("--to is before --from", hint="give the window oldest time first")
        self._write({"kind": "backfill", "job_id": job_id, "from": iso(start), "to": iso(end)})

    def pending(self) -> list[RunRequestFile]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                found.append(_parse(path, data))
            except (OSError, ValueError, KeyError):
                path.rename(path.with_suffix(".invalid"))
        return found

    def done(self, request: RunRequestFile) -> None:
        request.path.unlink(missing_ok=True)

    def _write(self, data: dict[str, str | None]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}-{secrets.token_hex(4)}"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.directory / f"{name}.json")


def _parse(path: Path, data: dict[str, str]) -> RunRequestFile:
    window = None
    if data["kind"] == "backfill":
        window = (utc(data["from"]), utc(data["to"]))
    elif data["kind"] != "manual":
        raise ValueError(data["kind"])
    return RunRequestFile(path, data["kind"], data["job_id"], data.get("idempotency_key"), window)
