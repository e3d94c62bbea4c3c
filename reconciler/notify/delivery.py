"""One POST of one message to one target, and what its answer means.

Answers are read as the services document them: Slack answers ``200 ok``, Discord ``204``
(``200`` with ``?wait=true``), a generic webhook any 2xx. A 429 is retried after the time it
names: Slack's ``Retry-After`` header (seconds), Discord's JSON ``retry_after`` (seconds, a
float; the header as a fallback). 408, 425, 5xx, timeouts and network errors are retried with
backoff; any other 4xx (Slack's ``400 invalid_payload``, ``404 no_service``, a deleted
Discord webhook) will not get better by sending the same message again: it is given up.

The URL is a secret: it never appears in a ``Sent.detail`` (errors are described by class
and status, never by the exception's text, which may carry the URL).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by ``post``: the notifier's client brings it in at its first send
    import httpx

# httpx logs every request with its URL at INFO: the URL is a secret, so those lines are off
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

SIGNATURE_HEADER = "X-Oven-Signature-256"
EVENT_HEADER = "X-Oven-Event"
DELIVERY_HEADER = "X-Oven-Delivery"
RETRYABLE_STATUS = frozenset({408, 425, 429})
MAX_RETRY_AFTER = 3600.0  # seconds; a longer wait asked for is capped here


@dataclass(frozen=True)
class Sent:
    """The outcome of one attempt."""

    delivered: bool
    retry: bool = False  # not delivered, and worth trying again
    retry_after: float | None = None  # seconds the target asked us to wait (429)
    detail: str = ""  # for the log and the page: never the URL


def body_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """The value of ``X-Oven-Signature-256``: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    *,
    kind: str,
    key: str,
    event: str,
    signing_key: str | None = None,
) -> Sent:
    """POST ``body`` to ``url`` (a target of type ``kind``) once; never raises."""
    import httpx

    data = body_bytes(body)
    headers = {"Content-Type": "application/json", "User-Agent": "agent-oven"}
    if kind == "webhook":
        headers[EVENT_HEADER], headers[DELIVERY_HEADER] = event, key
        if signing_key:
            headers[SIGNATURE_HEADER] = signature(signing_key, data)
    try:
        response = client.post(url, content=data, headers=headers)
    except httpx.TimeoutException as exc:
        return Sent(False, retry=True, detail=f"no answer in time ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Sent(False, retry=True, detail=f"cannot connect ({type(exc).__name__})")
    return answer(kind, response)


def answer(kind: str, response: httpx.Response) -> Sent:
    status = response.status_code
    text = response.text[:200].strip()
    if 200 <= status < 300:
        if kind == "slack" and status == 200 and text and text != "ok":
            return Sent(False, detail=f"HTTP {status}: {text}")
        return Sent(True, detail=f"HTTP {status}")
    detail = f"HTTP {status}" + (f": {text}" if text else "")
    if status == 429:
        return Sent(False, retry=True, retry_after=retry_after(response), detail=detail)
    if status in RETRYABLE_STATUS or status >= 500:
        return Sent(False, retry=True, retry_after=_header_seconds(response), detail=detail)
    return Sent(False, detail=detail)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait after a 429: Discord's JSON ``retry_after``, else ``Retry-After``."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("retry_after"), int | float):
        return min(max(float(data["retry_after"]), 0.0), MAX_RETRY_AFTER)
    return _header_seconds(response)


def _header_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None  # an HTTP date or garbage: our own backoff applies
