"""Who sent a webhook delivery, and is it signed with our secret? Pure functions, no I/O.

Three forms are accepted (docs/webhooks.md):

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``, event in
  ``X-GitHub-Event`` (``push``, ``ping``), delivery id in ``X-GitHub-Delivery``.
- GitLab: ``X-Gitlab-Token: <the secret>``, event in ``X-Gitlab-Event`` (``Push Hook``),
  delivery id in ``X-Gitlab-Event-UUID``.
- Generic: ``X-Oven-Signature: sha256=<hex HMAC-SHA256 of the body>``, optional
  ``X-Oven-Event`` (default ``push``) and ``X-Oven-Delivery``.

Every comparison is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

PUSH, PING, OTHER = "push", "ping", "other"


@dataclass(frozen=True)
class Delivery:
    """A delivery whose signature checked out."""

    sender: str  # github | gitlab | generic
    kind: str  # push | ping | other
    event: str  # the event name as sent
    delivery_id: str | None


def sign(secret: bytes, body: bytes) -> str:
    """The ``sha256=<hex>`` signature of ``body`` (GitHub's and the generic form)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> Delivery | None:
    """The delivery if ``headers`` carry a valid signature of ``body`` in one of the three
    forms; None when no form is present or the signature or token does not match.

    ``headers`` must be looked up case-insensitively (Starlette's ``Headers`` are)."""
    key = secret.encode()
    if "x-hub-signature-256" in headers:
        if not signature_ok(key, body, headers.get("x-hub-signature-256")):
            return None
        event = headers.get("x-github-event", "")
        kind = PUSH if event == "push" else PING if event == "ping" else OTHER
        return Delivery("github", kind, event, headers.get("x-github-delivery"))
    if "x-gitlab-token" in headers:
        token = headers.get("x-gitlab-token", "").encode()
        if not hmac.compare_digest(token, key):
            return None
        event = headers.get("x-gitlab-event", "")
        kind = PUSH if event in ("Push Hook", "Tag Push Hook") else OTHER
        return Delivery("gitlab", kind, event, headers.get("x-gitlab-event-uuid"))
    if "x-oven-signature" in headers:
        if not signature_ok(key, body, headers.get("x-oven-signature")):
            return None
        event = headers.get("x-oven-event", "push")
        kind = PUSH if event == "push" else PING if event == "ping" else OTHER
        return Delivery("generic", kind, event, headers.get("x-oven-delivery"))
    return None
