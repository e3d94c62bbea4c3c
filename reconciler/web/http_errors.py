"""Error responses: JSON under ``/api/``, an HTML page everywhere else.

Unknown ids give 404, bad query parameters 400, non-GET methods 405 (with ``Allow``), and a
snapshot source that fails gives 503, so a broken read model never looks like an empty one.
Any other exception is logged with its traceback and answered by ``ServerErrors`` with a 500
that passes through the security headers like every other response (Starlette's own 500 is
sent outside every middleware).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from jinja2 import Environment
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.status.view import Snapshot, SnapshotSource
from reconciler.web.render import render

log = logging.getLogger(__name__)


class ApiError(HTTPException):
    """An HTTP error with a hint a person can act on."""

    def __init__(self, status_code: int, message: str, hint: str = "") -> None:
        super().__init__(status_code, message)
        self.hint = hint


def take_snapshot(source: SnapshotSource) -> Snapshot:
    try:
        return source()
    except Exception as exc:  # the read model is someone else's code: never crash a page
        log.exception("snapshot source failed")
        raise ApiError(
            503, f"status is not available: {exc}", hint="see the reconciler's log"
        ) from exc


def json_error(status_code: int, message: str, hint: str = "", **extra: Any) -> JSONResponse:
    body = {"error": {"status": status_code, "message": message, "hint": hint}}
    return JSONResponse(body, status_code=status_code, **extra)


def handler(env: Environment) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The app's HTTPException handler, choosing JSON or HTML by path."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        hint = getattr(exc, "hint", "")
        if _wants_json(request):
            return json_error(exc.status_code, str(exc.detail), hint, headers=headers)
        response = render(
            env, request, "error.html", exc.status_code,
            status=exc.status_code, message=str(exc.detail), hint=hint, page="error",
        )
        response.headers.update(headers)
        return response

    return handle


def _wants_json(request: Request) -> bool:
    path = local_path(request)
    return path.startswith("/api/") or path in ("/healthz", "/readyz", "/metrics")


def local_path(request: Request) -> str:
    """The request path without the prefix the app is mounted under."""
    path = str(request.scope.get("path", ""))
    root = str(request.scope.get("root_path", ""))
    return path[len(root):] if root and path.startswith(root) else path


class ServerErrors:
    """Turns an exception escaping the app into a logged 500 (JSON under ``/api/``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watching)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise  # too late for a response of our own: the server closes the connection
            await _server_error(scope)(scope, receive, send)


def _server_error(scope: Scope) -> Response:
    message, hint = "internal error", "this is a bug in Agent Oven: see the reconciler's log"
    if str(scope.get("path", "")).startswith("/api/"):
        return json_error(500, message, hint)
    return PlainTextResponse(f"{message}\nhint: {hint}\n", status_code=500)
