"""Assembles the read-only web app: pages, JSON API, probes, metrics and static files.

``create_app`` is the only entry point. The app is read-only: every route answers GET
(and HEAD) only, any other method gets 405. The write endpoints the reconciler adds later
(webhooks, manual runs) are passed in as ``extra_routes`` so they stay separate from the
pages and keep their own authentication.

Middleware, outermost first: security headers on every response (400s and 500s included),
the ``Host`` check against ``allowed_hosts`` (DNS rebinding), and ``ServerErrors``, which
answers an exception with a 500 of our own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from reconciler.clock import Clock, SystemClock
from reconciler.status.view import ReadyCheck, SnapshotSource
from reconciler.web.api import Api
from reconciler.web.http_errors import ServerErrors, handler
from reconciler.web.live import LiveRuns
from reconciler.web.metrics import metrics_endpoint
from reconciler.web.pages import Pages
from reconciler.web.render import STATIC, make_env
from reconciler.web.security import AllowedHosts, SecurityHeaders


def create_app(
    get_snapshot: SnapshotSource,
    *,
    ready: ReadyCheck | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    poll_seconds: float = 3.0,
    allowed_hosts: Iterable[str] | None = None,
    process_metrics: CollectorRegistry | None = None,
    state_dir: Path | None = None,
    write_api: bool = False,
    clock: Clock | None = None,
) -> Starlette:
    """The status app reading from ``get_snapshot``; ``/readyz`` asks ``ready`` (default: ready)
    and the snapshot's Ready condition.

    ``extra_routes`` are matched before the built-in ones; pages poll for changes every
    ``poll_seconds``. ``allowed_hosts`` are the host names requests may address (see
    ``security.allowed_hosts``); None accepts any, for tests and embedding. ``/metrics``
    adds the metrics of ``process_metrics`` (the daemon's counters) to the snapshot's.
    ``state_dir``: where run logs are (``<state_dir>/logs``), read for the live log (None:
    the run record's log tail). ``write_api``: the write API is served beside this app, so run pages
    offer a token field and cancel and retry buttons (this app itself never writes).
    ``clock`` gives elapsed times (default: the system clock).
    """
    env = make_env(poll_seconds)
    live = LiveRuns(get_snapshot, state_dir, clock or SystemClock())
    routes: list[BaseRoute] = [
        *extra_routes,
        *live.routes(),
        *Pages(get_snapshot, env, live, write_api).routes(),
        *Api(get_snapshot, ready).routes(),
        Route("/metrics", metrics_endpoint(get_snapshot, process_metrics), methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(AllowedHosts, hosts=("*",) if allowed_hosts is None else allowed_hosts),
            Middleware(ServerErrors),
        ],
        exception_handlers={HTTPException: handler(env)},
    )
