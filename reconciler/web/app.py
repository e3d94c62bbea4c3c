"""Assembles the read-only web app: pages, JSON API, probes, metrics and static files.

``create_app`` is the only entry point. The app is read-only: every route answers GET
(and HEAD) only, any other method gets 405. The write endpoints the reconciler adds later
(webhooks, manual runs) are passed in as ``extra_routes`` so they stay separate from the
pages and keep their own authentication.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from reconciler.status.view import ReadyCheck, SnapshotSource
from reconciler.web.api import Api
from reconciler.web.http_errors import handler
from reconciler.web.metrics import metrics_endpoint
from reconciler.web.pages import Pages
from reconciler.web.render import STATIC, make_env
from reconciler.web.security import SecurityHeaders


def create_app(
    get_snapshot: SnapshotSource,
    *,
    ready: ReadyCheck | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    poll_seconds: float = 3.0,
) -> Starlette:
    """The status app reading from ``get_snapshot``; ``/readyz`` asks ``ready`` (default: ready).

    ``extra_routes`` are matched before the built-in ones; pages poll for changes every
    ``poll_seconds``.
    """
    env = make_env(poll_seconds)
    routes: list[BaseRoute] = [
        *extra_routes,
        *Pages(get_snapshot, env).routes(),
        *Api(get_snapshot, ready).routes(),
        Route("/metrics", metrics_endpoint(get_snapshot), methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: handler(env)},
    )
