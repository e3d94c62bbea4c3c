"""Turns templates into HTML responses, with autoescaping always on.

One Jinja environment per app: templates come from ``web/templates``, every value is
escaped unless a template says otherwise (none does), and missing keys in a partial
snapshot render as empty instead of failing the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse

from reconciler.web import format as fmt

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
POLL_INTERVAL_MS = 3000


def make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    fmt.install(env)
    return env


def render(
    env: Environment, request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``name`` with ``base`` (the mount prefix) and the poll interval available."""
    base = str(request.scope.get("root_path", "")).rstrip("/")
    page = env.get_template(name).render(base=base, poll_ms=POLL_INTERVAL_MS, **context)
    return HTMLResponse(page, status_code=status_code)
