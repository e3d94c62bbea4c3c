"""Response headers that make the read-only pages safe to open in any browser.

A strict Content-Security-Policy allows scripts, styles and fetches from this origin only
(no inline script or style, no framing, no forms), so even a manifest that smuggles markup
past escaping could not run code. Applied to every response as plain ASGI middleware.

``AllowedHosts`` answers 400 to a request whose ``Host`` header names another host than the
ones the daemon serves: a DNS-rebinding page (``evil.example`` resolving to 127.0.0.1) then
cannot read the API from a victim's browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")  # always allowed: no rebinding can name them
ANY_ADDRESS = ("", "0.0.0.0", "::")  # listening everywhere names no host of its own
HOST_HEADER = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::\d{1,5})?")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS``, and ``Cache-Control: no-store`` outside ``/static``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if not is_static and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def allowed_hosts(listen_host: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The host names a daemon listening on ``listen_host`` answers: the localhost forms, the
    listen address itself (unless it is every address) and ``extra`` (``--allowed-host``)."""
    hosts = [*LOCAL_HOSTS, *(() if listen_host in ANY_ADDRESS else (listen_host,)), *extra]
    return tuple(dict.fromkeys(host.strip("[]").lower() for host in hosts if host))


class AllowedHosts:
    """400 for a request whose ``Host`` is not one of ``hosts`` (``*`` allows any)."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(host.strip("[]").lower() for host in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.hosts:
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        name = _host_name(host)
        if name is not None and name in self.hosts:
            await self.app(scope, receive, send)
            return
        text = (
            f"host {host!r} is not served here\n"
            "hint: open the page by the address the daemon listens on, or start it with "
            f"--allowed-host {name or 'NAME'} (env OVEN_ALLOWED_HOSTS)\n"
        )
        await PlainTextResponse(text, status_code=400)(scope, receive, send)


def _host_name(header: str) -> str | None:
    """The host of a ``Host`` header (``[::1]:8080`` -> ``::1``); None if it is malformed."""
    match = HOST_HEADER.fullmatch(header)
    if match is None:
        return None
    return (match["ipv6"] or match["name"]).lower()
