"""The long-running daemon: wire the adapters, then tick until told to stop.

Ticks run in a worker thread (docker and dulwich block); the status page is served by uvicorn
in the same event loop. Between ticks the loop sleeps until the next due time, at most
``settings.tick`` seconds, and fetches the config repo every ``settings.interval`` seconds.
Stopping leaves running containers alone: the next start adopts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from reconciler.clock import SystemClock
from reconciler.executors.docker import DockerExecutor
from reconciler.ledger.git import GitLedger
from reconciler.reconcile import Reconciler
from reconciler.requests import RequestSpool
from reconciler.secrets import SecretStore
from reconciler.settings import Settings
from reconciler.source.git import GitSource
from reconciler.web.app import create_app
from reconciler.web.server import serve

log = logging.getLogger("oven")


def build_reconciler(settings: Settings) -> Reconciler:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    source = GitSource(settings.repo, settings.branch, settings.state_dir)
    return Reconciler(
        settings,
        source=source,
        executor=DockerExecutor(state_dir=settings.state_dir, instance=settings.instance),
        ledger=GitLedger(source.mirror, settings.status_branch),
        clock=SystemClock(),
        secrets=SecretStore.load(settings.secrets_file),
        spool=RequestSpool(settings.state_dir),
    )


async def run_daemon(settings: Settings) -> int:
    reconciler = build_reconciler(settings)
    await asyncio.to_thread(reconciler.restore)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = create_app(
        lambda: reconciler.recorder.snapshot, ready=lambda: reconciler.desired is not None
    )
    host, port = settings.host_port
    server = asyncio.create_task(serve(app, host, port))
    log.info("status page on http://%s:%d/", host, port)
    try:
        await _tick_forever(reconciler, settings, stop)
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await server
    log.info("stopped; running containers are left to finish and will be adopted on restart")
    return 0


async def _tick_forever(reconciler: Reconciler, settings: Settings, stop: asyncio.Event) -> None:
    clock = reconciler.clock
    next_fetch = 0.0
    while not stop.is_set():
        fetch = time.monotonic() >= next_fetch
        if fetch:
            next_fetch = time.monotonic() + settings.interval
        due = await asyncio.to_thread(reconciler.tick, fetch)
        wait = (due - clock.now()).total_seconds()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=min(max(wait, 0.05), settings.tick))
