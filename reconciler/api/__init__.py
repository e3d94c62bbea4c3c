"""The write API: trigger, cancel and retry runs over HTTP, with bearer tokens.

Separate from the read-only pages (``reconciler/web``) by construction: its own Starlette app,
mounted beside them by ``loop.py`` only when ``oven run --write-api`` is given. It never
touches the cycle: every accepted request becomes a file in the request spool
(``reconciler/spool.py``) that the daemon takes up on its next tick. One job per module:
``tokens`` stores hashed tokens, ``ratelimit`` is the per-token bucket, ``openapi`` the
document, ``app`` the endpoints.
"""

from reconciler.api.app import create_api_app

__all__ = ["create_api_app"]
