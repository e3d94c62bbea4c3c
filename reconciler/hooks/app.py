"""``POST /hooks/git``: a signed push makes the daemon fetch at once.

Answers: 202 a push (the daemon fetches now), 200 a ping, an event we do not act on, or a
delivery id seen before (ignored), 401 a missing or bad signature (nothing happens), 413 a body
over ``MAX_BODY`` (by ``Content-Length`` or by what actually arrives), 405 any other method.
The body is read only up to the limit, and nothing is done before the signature is checked.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.hooks.verify import PING, PUSH, verify

log = logging.getLogger("oven.hooks")

MAX_BODY = 1024 * 1024  # bytes; GitHub caps payloads at 25 MB, pushes of config repos are tiny
REMEMBERED = 1024  # delivery ids kept to ignore replays
PATH = "/hooks/git"


class RecentIds:
    """The last ``size`` delivery ids, oldest forgotten first (bounded memory)."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, delivery_id: str) -> bool:
        """True if ``delivery_id`` was seen before; remembers it either way."""
        if delivery_id in self._ids:
            self._ids.move_to_end(delivery_id)
            return True
        self._ids[delivery_id] = None
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return False


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or TooLarge as soon as it is (or claims to be) over ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_hooks_app(
    secret: str,
    on_push: Callable[[], object],
    *,
    max_body: int = MAX_BODY,
    remember: int = REMEMBERED,
) -> Starlette:
    """The webhook app; ``on_push`` is called (in the event loop) for each new valid push."""
    recent = RecentIds(remember)

    async def git_hook(request: Request) -> Response:
        try:
            body = await read_body(request, max_body)
        except TooLarge:
            log.warning("webhook: body over %d bytes refused", max_body)
            return _answer(413, f"body over {max_body} bytes")
        delivery = verify(secret, request.headers, body)
        if delivery is None:
            log.warning("webhook: missing or bad signature from %s; ignored", _client(request))
            return _answer(401, "missing or bad signature")
        if delivery.delivery_id and recent.seen(delivery.delivery_id):
            log.info("webhook: delivery %s seen before; ignored", delivery.delivery_id)
            return _answer(200, "duplicate delivery ignored")
        if delivery.kind == PING:
            return _answer(200, "pong")
        if delivery.kind != PUSH:
            return _answer(200, f"event {delivery.event!r} ignored")
        log.info(
            "webhook: %s push (delivery %s); fetching now",
            delivery.sender,
            delivery.delivery_id or "without id",
        )
        on_push()
        return _answer(202, "fetching")

    return Starlette(routes=[Route(PATH, git_hook, methods=["POST"])])


def _answer(status: int, message: str) -> Response:
    return JSONResponse(
        {"status": status, "message": message},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
