"""What ``oven trigger``, ``oven cancel`` and ``oven retry`` share: local spool or ``--server``.

Without ``--server`` a command writes to the spool of the daemon's ``--state-dir``; with it,
the command POSTs to that daemon's write API (``oven run --write-api``) with ``--token``. A
request that is refused (unknown job or run, a missing state dir, any 4xx or 5xx, a server
that cannot be reached) is ``Refused``: the command prints ``error:`` and ``hint:`` and exits 1.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reconciler.cli.context import Context
from reconciler.cli.options import Option

REFUSED = 1  # like a failed check: nothing was requested
TIMEOUT = 10.0  # seconds for one request to the server

# fmt: off
SERVER = Option("--server", "URL of a daemon started with --write-api, e.g. http://host:8080; "
                "unset: the local spool of --state-dir", env="OVEN_SERVER", metavar="URL",
                shown="none: local")
TOKEN = Option("--token", "API token for --server (oven token create); prefer the variable, "
               "a flag is visible to other users in ps", env="OVEN_TOKEN", metavar="TOKEN")
# fmt: on


class Refused(Exception):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def refuse(ctx: Context, exc: Refused) -> int:
    ctx.err(f"error: {exc.message}")
    ctx.err(f"hint: {exc.hint}")
    return REFUSED


def state_dir(args: argparse.Namespace) -> Path:
    """The local state dir, which must exist: a daemon made it."""
    path: Path = args.state_dir
    if not path.is_dir():
        raise Refused(
            f"state dir {path} does not exist",
            "give the --state-dir of the running daemon (or OVEN_STATE_DIR), or use --server",
        )
    return path


def post(args: argparse.Namespace, path: str, headers: dict[str, str] | None = None) -> Any:
    """POST to ``--server`` with ``--token``; the JSON answer, or ``Refused``."""
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO line per request is noise
    if not args.token:
        raise Refused("--server needs a token", "set OVEN_TOKEN (oven token create makes one)")
    url = args.server.rstrip("/") + path
    sent = {"Authorization": f"Bearer {args.token}", **(headers or {})}
    try:
        response = httpx.post(url, headers=sent, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise Refused(
            f"cannot reach {args.server}: {exc}",
            "check --server, and that the daemon runs with --write-api",
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        if not isinstance(error, dict):
            error = {}
        message = error.get("message") or f"{response.status_code} {response.reason_phrase}"
        hint = error.get("hint") or _hint(response.status_code)
        raise Refused(f"{args.server} answered {response.status_code}: {message}", hint)
    return body


def _hint(status: int) -> str:
    if status in (404, 405):
        return "is the daemon started with --write-api? (without it the write API is off)"
    return "see the daemon's log"


def segment(text: str) -> str:
    """A job or run id as one URL path segment."""
    return quote(text, safe="")
