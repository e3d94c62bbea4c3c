"""The long-running daemon: wire the adapters, then tick until told to stop.

Ticks run in a worker thread (docker and dulwich block); the status page is served by uvicorn
in the same event loop. Between ticks the loop sleeps until the next due time, at most
``settings.tick`` seconds, and fetches the config repo every ``settings.interval`` seconds —
or at once when a watched working tree changes (``--watch``). Stopping leaves running
containers alone: the next start adopts them.

With ``--write-api`` the write API (``reconciler/api``) is served beside the pages
(``with_writes``): it only drops requests into the spool and sets ``wake``.

The web port is bound before anything else, so a taken port or a bad address ends ``oven run``
with an error before any job runs. After that nothing ends the daemon but a signal: a tick
that raises (every step contains its own errors, so this is the last line of defence) is
logged once with its traceback, counted under step ``tick`` and tried again with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.backoff import Backoff
from reconciler.clock import SystemClock, iso
from reconciler.gitrepo import Credentials, GitMirror
from reconciler.interfaces import ConfigSource
from reconciler.ledger.git import GitLedger
from reconciler.notify import Notifier, Outbox
from reconciler.reconcile import Reconciler
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.source.local import LocalSource
from reconciler.spool import RequestSpool
from reconciler.telemetry import Telemetry
from reconciler.web.app import create_app
from reconciler.web.security import allowed_hosts
from reconciler.web.server import bind_socket, serve_socket
from reconciler.workspaces import GitWorkspaces

if TYPE_CHECKING:  # imported where used: the Docker SDK when the executor is built
    from reconciler.executors.docker import DockerExecutor
    from reconciler.executors.swarm import SwarmExecutor

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
        executor=executor(settings),
        ledger=ledger,
        leases=ledger,
        clock=SystemClock(),
        secrets=SecretStore.load(settings.secrets_file),
        spool=RequestSpool(settings.state_dir),
        workspaces=workspaces(settings),
    )


def executor(settings: Settings) -> DockerExecutor | SwarmExecutor:
    """The executor ``--executor`` names: containers on one engine, or services on a swarm.

    Imported here, not at the top: the Docker SDK (with ``requests``) is loaded when the
    daemon builds its executor, and never by a process that only imports the loop."""
    common: dict[str, Any] = dict(
        state_dir=settings.state_dir,
        instance=settings.instance,
        volume_allowlist=settings.volume_allowlist,
        max_log_bytes=settings.max_log_bytes,
    )
    if settings.executor == "swarm":
        from reconciler.executors.swarm import SwarmExecutor

        return SwarmExecutor(**common)
    from reconciler.executors.docker import DockerExecutor

    # one connection per concurrent start, plus the observer, the log savers and removals
    return DockerExecutor(pool_size=settings.start_concurrency + 4, **common)


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
    telemetry = Telemetry()
    notifier = observe_commits(reconciler, settings, telemetry)
    app: ASGIApp = create_app(
        reconciler.snapshots.get,
        ready=reconciler.ready,
        allowed_hosts=allowed_hosts(host, settings.allowed_hosts),
        process_metrics=telemetry.registry,
        state_dir=settings.state_dir,
        write_api=settings.write_api,
        clock=reconciler.clock,
    )
    if hook_secret is not None:
        from reconciler.hooks import create_hooks_app  # only with a webhook secret

        hooks = create_hooks_app(hook_secret, lambda: loop.call_soon_threadsafe(wake.set))
        app = beside(app, hooks)
        log.info("push webhook on http://%s:%d%s", host, port, HOOKS_PREFIX + "/git")
    if settings.write_api:
        app = with_writes(
            app, write_api(settings, reconciler, lambda: loop.call_soon_threadsafe(wake.set))
        )
        log.info("write API on http://%s:%d/api/v1/ (docs/api.md)", host, port)
    nudge = asyncio.Event()  # a container ended or a start did: tick now (no fetch)
    watch = getattr(reconciler.executor, "watch", None)  # optional (interfaces.Executor)
    if callable(watch):
        watch(lambda: _set_soon(loop, nudge))
    reconciler.dispatch.on_started = lambda: _set_soon(loop, nudge)  # book it at once
    server = asyncio.create_task(serve_socket(app, sock))
    log.info("status page on http://%s:%d/", host, port)
    notifier.start()
    try:
        await tick_forever(
            reconciler, settings, stop, wake, partial(wait_for_events, nudge=nudge), telemetry
        )
    finally:
        await asyncio.to_thread(notifier.stop)
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await server
    log.info("stopped; running containers are left to finish and will be adopted on restart")
    return 0


def observe_commits(reconciler: Reconciler, settings: Settings, telemetry: Telemetry) -> Notifier:
    """Metrics and notifications hear of every status commit; dead notification targets
    become warnings of the reconciler. The notifier's thread is started by the caller; it
    knows the targets of every revision loaded, so a standby delivers what it released."""
    notifier = Notifier(
        Outbox.open(settings.state_dir),
        SecretStore.load(settings.secrets_file),
        reconciler.clock,
        telemetry,
    )

    def run_status(run_id: str) -> str | None:
        record = reconciler.book.runs.get(run_id)
        if record is not None:
            return record.status
        found = reconciler.history.find(run_id)
        return str(found.get("status")) if found else None

    # None (a broken oven.yaml) keeps the last targets
    reconciler.load_listeners.append(lambda desired: notifier.configure(desired.notify))
    reconciler.recorder.stagers.append(notifier.stage)
    reconciler.restore_listeners.append(
        lambda: notifier.recover(run_status, reconciler.recorder.cache.reconciler)
    )
    reconciler.recorder.listeners += [telemetry.listen, notifier.listen]
    reconciler.warning_sources.append(notifier.warnings)
    return notifier


def webhook_secret(settings: Settings) -> str | None:
    """The webhook's secret from the secret store, None when the webhook is off; a named
    secret that is missing or too short ends ``oven run`` with a hint."""
    name = settings.webhook_secret
    if not name:
        return None
    return SecretStore.load(settings.secrets_file).resolve([name])[name]


HOOKS_PREFIX = "/hooks"
MIN_PAUSE = 0.002  # seconds between ticks at least (a due time is never slept past)
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


def write_api(settings: Settings, reconciler: Reconciler, wake: Callable[[], object]) -> ASGIApp:
    """The write API (``reconciler/api``) over the daemon's spool, waking the loop on a write."""
    from reconciler.api import create_api_app
    from reconciler.api.ratelimit import RateLimiter

    limiter = RateLimiter(settings.api_rate, settings.api_burst)
    return create_api_app(settings.state_dir, reconciler.snapshots.get, wake=wake, limiter=limiter)


API_PREFIX = "/api/v1/"
OPENAPI = "/api/v1/openapi.json"


def with_writes(pages: ASGIApp, api: ASGIApp) -> ASGIApp:
    """One ASGI app: a POST under ``/api/v1/`` and the OpenAPI document go to the write API,
    everything else to ``pages``, which so stay read-only."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_write(scope):
            await api(scope, receive, send)
        else:
            await pages(scope, receive, send)

    return app


def _is_write(scope: Scope) -> bool:
    path = scope.get("path", "")
    return path == OPENAPI or (scope.get("method") == "POST" and path.startswith(API_PREFIX))


def poll_interval(settings: Settings) -> float:
    """``settings.interval`` plus a jitter of up to ``JITTER`` of it, the same every time for
    one instance and repo, so daemons started together do not poll a server in step."""
    seed = f"{settings.instance}\0{settings.repo}\0{settings.state_dir}".encode()
    fraction = int.from_bytes(hashlib.sha256(seed).digest()[:4], "big") / 2**32
    return settings.interval * (1 + JITTER * fraction)


Wait = Callable[[float, asyncio.Event, asyncio.Event], Awaitable[None]]


async def wait_for_events(
    seconds: float,
    stop: asyncio.Event,
    wake: asyncio.Event,
    nudge: asyncio.Event | None = None,
) -> None:
    """Sleep up to ``seconds``, or until ``stop`` or ``wake`` is set, or ``nudge`` (the
    executor saw a container end: tick now, without a fetch; cleared here)."""
    events = (stop, wake) if nudge is None else (stop, wake, nudge)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_first(*events), timeout=seconds)
    if nudge is not None:
        nudge.clear()


def _set_soon(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    """Set ``event`` from another thread; quiet once the loop is closed."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(event.set)


async def tick_forever(
    reconciler: Reconciler,
    settings: Settings,
    stop: asyncio.Event,
    wake: asyncio.Event,
    wait: Wait = wait_for_events,
    telemetry: Telemetry | None = None,
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
        started = time.monotonic()
        try:
            restored = reconciler.restored
            due = await asyncio.to_thread(reconciler.tick, fetch)
            failing = failing.succeeded()
            if reconciler.restored and not restored:
                settle_heap()
        except Exception as exc:  # the last line of defence: log, count, back off, go on
            failing = _tick_failed(reconciler, settings, failing, exc)
            due = failing.next_try or clock.now()
        if telemetry is not None:
            telemetry.reconcile_duration.observe(time.monotonic() - started)
        pause = min(max((due - clock.now()).total_seconds(), MIN_PAUSE), settings.tick)
        await wait(pause, stop, wake)


def settle_heap() -> None:
    """After a restore: collect once, then keep what is live out of later full collections.

    What a start reads (config, summaries, git objects, modules) lives as long as the daemon;
    a full collection walking it again paused every thread, pages included, for 0.3 s with
    1k jobs. Objects frozen here are still freed by reference counting."""
    gc.collect()
    gc.freeze()


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
