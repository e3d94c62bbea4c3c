"""Local HTTP servers on 127.0.0.1 that answer like Slack's and Discord's incoming webhooks.

- Slack: ``200 ok`` (text/html); ``400 invalid_payload`` for a body without ``text`` or
  ``blocks`` or one that is not JSON; scripted ``429`` with a ``Retry-After`` header.
- Discord: ``204`` (no body); ``400`` with a JSON error for an empty message; scripted ``429``
  with a JSON body carrying ``retry_after`` (seconds, a float), as Discord sends it.
- Generic webhook: ``200``.

``script`` holds answers to give first, in order (``"429"``, ``"400"`` (Slack:
``invalid_payload``), ``"500"`` or ``"hang"``: never answer until the server stops); after
that the server answers as the service would. Every request is kept in ``requests``; the
ones answered with success in ``accepted``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    raw: bytes
    status: int
    at: float

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


@dataclass
class ChatServer:
    kind: str  # slack | discord | webhook
    retry_after: float = 1.0
    script: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    path: str = "/services/T000/B000/secret-token-path"
    server: ThreadingHTTPServer | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    @property
    def accepted(self) -> list[Any]:
        with self.lock:
            return [r.body for r in self.requests if 200 <= r.status < 300]

    def statuses(self) -> list[int]:
        with self.lock:
            return [r.status for r in self.requests]

    def answer(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            scripted = self.script.pop(0) if self.script else None
        if scripted == "hang":
            self.stopping.wait(120)
            return 503, {}, b""
        if scripted == "429":
            return self._rate_limited()
        if scripted == "400" and self.kind == "slack":
            return 400, {"Content-Type": "text/html"}, b"invalid_payload"
        if scripted is not None:
            return int(scripted), {"Content-Type": "text/plain"}, b"scripted failure"
        return self._as_the_service(raw)

    def _rate_limited(self) -> tuple[int, dict[str, str], bytes]:
        if self.kind == "discord":
            body = {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": False,
            }
            return 429, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return 429, {"Retry-After": str(int(self.retry_after))}, b"rate_limited"

    def _as_the_service(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if self.kind == "slack":
            if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
                return 400, {"Content-Type": "text/html"}, b"invalid_payload"
            return 200, {"Content-Type": "text/html"}, b"ok"
        if self.kind == "discord":
            if not isinstance(body, dict) or not (body.get("content") or body.get("embeds")):
                error = {"message": "Cannot send an empty message", "code": 50006}
                return 400, {"Content-Type": "application/json"}, json.dumps(error).encode()
            return 204, {}, b""
        return 200, {"Content-Type": "application/json"}, b"{}"


def _handler(chat: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (the http.server name)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != chat.path:
                status, headers, body = 404, {}, b"no_service"
            else:
                status, headers, body = chat.answer(raw)
            with chat.lock:
                chat.requests.append(
                    Request(self.path, dict(self.headers.items()), raw, status, time.monotonic())
                )
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up waiting (a "hang" answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def chat_server(kind: str, *script: str, retry_after: float = 1.0) -> Iterator[ChatServer]:
    chat = ChatServer(kind, retry_after=retry_after, script=list(script))
    chat.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(chat))
    chat.server.daemon_threads = True
    thread = threading.Thread(target=chat.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield chat
    finally:
        chat.stopping.set()
        chat.server.shutdown()
        chat.server.server_close()
        thread.join(10)
