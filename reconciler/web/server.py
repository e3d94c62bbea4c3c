"""Serving the app with uvicorn: in the daemon's event loop, or in a thread for tests.

The listening socket is bound here, before uvicorn starts, so a port that is taken becomes
an ``OvenError`` with a hint instead of uvicorn's ``sys.exit``, and port 0 (any free port)
is known before the first request. Neither function touches signal handlers: the daemon
owns SIGTERM/SIGINT and stops the server by cancelling ``serve`` or calling ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp

from reconciler.errors import OvenError

START_TIMEOUT = 10.0
GRACE_SECONDS = 1  # on stop, open requests get this long; then event streams are cut


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; OvenError with a hint when that is impossible."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise _listen_error(host, port, exc) from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise _listen_error(host, port, exc) from exc
    return sock


def _listen_error(host: str, port: int, exc: OSError) -> OvenError:
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        hint = "give an address of this machine, e.g. --listen 127.0.0.1:8080 or 0.0.0.0:8080"
    elif exc.errno == errno.EACCES:
        hint = "ports below 1024 need privileges: choose a port of 1024 or more"
    else:
        hint = "choose another web port or stop the process that uses it"
    return OvenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint=hint)


def _server(app: ASGIApp, log_level: str) -> _EmbeddedServer:
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS,  # a run page's event stream never ends itself
    )
    return _EmbeddedServer(config)


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def serve(app: ASGIApp, host: str, port: int, *, log_level: str = "warning") -> None:
    """Serve until cancelled, then shut down gracefully (open requests get ``GRACE_SECONDS``
    to finish; a run page's event stream is cut then and its browser reconnects)."""
    await serve_socket(app, bind_socket(host, port), log_level=log_level)


async def serve_socket(app: ASGIApp, sock: socket.socket, *, log_level: str = "warning") -> None:
    """``serve`` on a socket bound already (the daemon binds before it does anything else);
    the socket is closed when serving ends."""
    server = _server(app, log_level)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
    finally:
        sock.close()


@dataclass
class ServerHandle:
    """A server running in a background thread; ``stop()`` shuts it down and joins."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
        if self.thread.is_alive():
            raise OvenError(f"web server at {self.url} did not stop within {timeout}s")


def serve_in_thread(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
) -> ServerHandle:
    """Start serving in a daemon thread and return once requests are accepted."""
    sock = bind_socket(host, port)
    server = _server(app, log_level)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="oven-web", daemon=True
    )
    thread.start()
    handle = ServerHandle(_url(sock), server, thread, sock)
    if not _wait_started(server, thread):
        handle.stop()
        raise OvenError(
            f"web server on {handle.url} did not start within {START_TIMEOUT}s",
            hint="see the log above for uvicorn's error",
        )
    return handle


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.started
