"""The long-running daemon: wire the adapters, then tick until told to stop.

Ticks run in a worker thread (docker and dulwich block); the status page is served by uvicorn
in the same event loop. Between ticks the loop sleeps until the next due time, at most
``settings.tick`` seconds, and fetches the config repo every ``settings.interval`` seconds —
or at once when a watched working tree changes (``--watch``). Stopping leaves running
containers alone: the next start adopts them.

The web port is bound before anything else, so a taken port or a bad address ends ``oven run``
with an error before any job runs. After that nothing ends the daemon but a signal: a tick
that raises (every step contains its own errors, so this is the last line of defence) is
logged once with its traceback, counted under step ``tick`` and tried again with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.backoff import Backoff
from reconciler.clock import SystemClock, iso
from reconciler.executors.docker import DockerExecutor
from reconciler.gitrepo import Credentials, GitMirror
from reconciler.hooks import create_hooks_app
from reconciler.interfaces import ConfigSource
from reconciler.ledger.git import GitLedger
from reconciler.reconcile import Reconciler
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.source.local import LocalSource
from reconciler.spool import RequestSpool
from reconciler.web.app import create_app
from reconciler.web.security import allowed_hosts
from reconciler.web.server import bind_socket, serve_socket
from reconciler.workspaces import GitWorkspaces

log = logging.getLogger("oven")


def build_reconciler(settings: Settings) -> Reconciler:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    source: ConfigSource
    if settings.watch:
        source = LocalSource(Path(settings.repo))
        mirror = GitMirror(str(Path(settings.repo).resolve()), settings.state_dir / "mirror.git")
    else:
        source = git = GitSource(
            settings.repo, settings.branch, settings.state_dir, repo_credentials(settings)
        )
        mirror = git.mirror
    ledger = GitLedger(
        mirror, settings.status_branch, queue_dir=settings.state_dir / "status-queue"
    )
    return Reconciler(
        settings,
        source=source,
        executor=DockerExecutor(
            state_dir=settings.state_dir,
            instance=settings.instance,
            volume_allowlist=settings.volume_allowlist,
            max_log_bytes=settings.max_log_bytes,
        ),
        ledger=ledger,
        leases=ledger,
        clock=SystemClock(),
        secrets=SecretStore.load(settings.secrets_file),
        spool=RequestSpool(settings.state_dir),
        workspaces=workspaces(settings),
    )


def repo_credentials(settings: Settings) -> Credentials:
    """The config repo's token or SSH key, from the secret store (never the config repo)."""
    names = [n for n in (settings.repo_token_secret, settings.repo_ssh_key_secret) if n]
    values = SecretStore.load(settings.secrets_file).resolve(names) if names else {}
    return Credentials(
        token=values.get(settings.repo_token_secret or ""),
        username=settings.repo_username,
        ssh_key=values.get(settings.repo_ssh_key_secret or ""),
        state_dir=settings.state_dir,
    )


def workspaces(settings: Settings) -> GitWorkspaces:
    """Checkouts of agent-pipeline runs under the state dir; host-login paths from settings."""
    return GitWorkspaces(
        settings.state_dir / "checkouts",
        claude_dir=settings.host_claude_dir,
        claude_json=settings.host_claude_json,
        gh_dir=settings.host_gh_dir,
    )


async def run_daemon(settings: Settings) -> int:
    host, port = settings.host_port
    sock = bind_socket(host, port)  # first: a port we cannot have ends the command here
    try:
        reconciler = build_reconciler(settings)  # the first tick restores it (``lead`` steps)
        hook_secret = webhook_secret(settings)
    except BaseException:
        sock.close()
        raise
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if isinstance(reconciler.source, LocalSource):
        _watch_in_thread(reconciler.source, loop, wake, settings.interval)
    app: ASGIApp = create_app(
        reconciler.snapshots.get,
        ready=reconciler.ready,
        allowed_hosts=allowed_hosts(host, settings.allowed_hosts),
        state_dir=settings.state_dir,
        write_api=bool(getattr(settings, "write_api", False)),  # the write API's own flag
        clock=reconciler.clock,
    )
    if hook_secret is not None:
        hooks = create_hooks_app(hook_secret, lambda: loop.call_soon_threadsafe(wake.set))
        app = beside(app, hooks)
        log.info("push webhook on http://%s:%d%s", host, port, HOOKS_PREFIX + "/git")
    server = asyncio.create_task(serve_socket(app, sock))
    log.info("status page on http://%s:%d/", host, port)
    try:
        await tick_forever(reconciler, settings, stop, wake)
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await server
    log.info("stopped; running containers are left to finish and will be adopted on restart")
    return 0


def webhook_secret(settings: Settings) -> str | None:
    """The webhook's secret from the secret store, None when the webhook is off; a named
    secret that is missing or too short ends ``oven run`` with a hint."""
    name = settings.webhook_secret
    if not name:
        return None
    return SecretStore.load(settings.secrets_file).resolve([name])[name]


HOOKS_PREFIX = "/hooks"
JITTER = 0.1  # the poll interval is stretched by up to this fraction, fixed per instance


def beside(pages: ASGIApp, hooks: ASGIApp) -> ASGIApp:
    """One ASGI app: ``/hooks/...`` goes to the webhook app, everything else (and lifespan) to
    the read-only pages, which so never see a write request."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == HOOKS_PREFIX or path.startswith(HOOKS_PREFIX + "/"):
            await hooks(scope, receive, send)
        else:
            await pages(scope, receive, send)

    return app


def poll_interval(settings: Settings) -> float:
    """``settings.interval`` plus a jitter of up to ``JITTER`` of it, the same every time for
    one instance and repo, so daemons started together do not poll a server in step."""
    seed = f"{settings.instance}\0{settings.repo}\0{settings.state_dir}".encode()
    fraction = int.from_bytes(hashlib.sha256(seed).digest()[:4], "big") / 2**32
    return settings.interval * (1 + JITTER * fraction)


Wait = Callable[[float, asyncio.Event, asyncio.Event], Awaitable[None]]


async def wait_for_events(seconds: float, stop: asyncio.Event, wake: asyncio.Event) -> None:
    """Sleep up to ``seconds``, or until ``stop`` or ``wake`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_first(stop, wake), timeout=seconds)


async def tick_forever(
    reconciler: Reconciler,
    settings: Settings,
    stop: asyncio.Event,
    wake: asyncio.Event,
    wait: Wait = wait_for_events,
) -> None:
    """Tick until ``stop``: fetch every ``settings.interval`` or when ``wake`` is set.

    All time comes from the reconciler's Clock, and waiting goes through ``wait``, so tests
    drive the loop with a FakeClock and a ``wait`` that moves it.
    """
    clock = reconciler.clock
    next_fetch = clock.now()
    failing = Backoff("tick")
    every = poll_interval(settings)
    while not stop.is_set():
        now = clock.now()
        fetch = wake.is_set() or now >= next_fetch
        if fetch:
            wake.clear()
            next_fetch = now + timedelta(seconds=every)
        try:
            due = await asyncio.to_thread(reconciler.tick, fetch)
            failing = failing.succeeded()
        except Exception as exc:  # the last line of defence: log, count, back off, go on
            failing = _tick_failed(reconciler, settings, failing, exc)
            due = failing.next_try or clock.now()
        pause = min(max((due - clock.now()).total_seconds(), 0.05), settings.tick)
        await wait(pause, stop, wake)


def _tick_failed(
    reconciler: Reconciler, settings: Settings, failing: Backoff, exc: Exception
) -> Backoff:
    now = reconciler.clock.now()
    error = reconciler.incidents.contain("tick", exc, now)
    failing = failing.failed(error, now, base=1.0, cap=max(settings.interval, 1.0))
    log.error(
        "%s; next try at %s (attempt %d)",
        error.message,
        iso(failing.next_try),
        failing.failures + 1,
    )
    return failing


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _watch_in_thread(
    source: LocalSource, loop: asyncio.AbstractEventLoop, wake: asyncio.Event, every: float
) -> None:
    """Set ``wake`` whenever a manifest in the watched tree changes."""

    def watch() -> None:
        while not loop.is_closed():
            if source.wait_for_change(timeout=every):
                log.info("manifests changed on disk; reconciling now")
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(wake.set)

    threading.Thread(target=watch, name="oven-watch", daemon=True).start()
