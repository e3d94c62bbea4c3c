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


def make_env(poll_seconds: float = 3.0) -> Environment:
    """The template environment; ``poll_seconds`` is how often pages refresh themselves."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the package: no stat() per page
    )
    fmt.install(env)
    env.globals["poll_ms"] = max(250, int(poll_seconds * 1000))
    return env


def render(
    env: Environment, request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``name`` with ``base`` (the mount prefix) available to links."""
    html = page_html(env, mount_base(request), name, **context)
    return HTMLResponse(html, status_code=status_code)


def mount_base(request: Request) -> str:
    """The prefix the app is mounted under (``""`` at the root), for links."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def page_html(env: Environment, base: str, name: str, **context: Any) -> str:
    """The text of template ``name`` with ``base`` (the mount prefix) for its links."""
    return env.get_template(name).render(base=base, **context)


def page_body(env: Environment, base: str, name: str, **context: Any) -> tuple[bytes, str]:
    """``page_html`` as bytes with its media type, for an answer made once (``web.cached``)."""
    return page_html(env, base, name, **context).encode("utf-8"), "text/html; charset=utf-8"
