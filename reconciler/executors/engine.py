"""Talking to a Docker engine through the docker SDK: connecting, and turning its exceptions
into ``reconciler.errors`` with a hint. Shared by the executors that use the SDK (``docker``
and ``swarm``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException

from reconciler.clock import utc
from reconciler.errors import ExecutorError
from reconciler.executors import messages


def connect(pool_size: int = 10) -> docker.DockerClient:
    """The engine named by the environment (DOCKER_HOST ...); EngineUnavailable if none.
    ``pool_size``: connections kept open (one per thread that may call at once)."""
    try:
        return docker.from_env(max_pool_size=pool_size)
    except DockerException as exc:
        raise messages.engine_unavailable("connect to Docker", str(exc)) from exc


def explain(exc: APIError) -> str:
    """The engine's own words for a refused call."""
    return str(exc.explanation or exc)


def timestamp(text: Any) -> datetime | None:
    """An engine time (RFC 3339 with nanoseconds) as an aware datetime; None for the zero time."""
    if not text or str(text).startswith("0001-01-01"):
        return None
    return utc(str(text))


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn docker and requests exceptions raised while doing ``action`` into ours."""
    try:
        yield
    except requests.exceptions.ConnectionError as exc:
        raise messages.engine_unavailable(action) from exc
    except requests.exceptions.Timeout as exc:
        raise ExecutorError(
            f"cannot {action}: the Docker engine did not answer in time",
            hint="the engine may be overloaded; `docker info` shows whether it responds",
        ) from exc
    except APIError as exc:
        raise ExecutorError(f"cannot {action}: {explain(exc)}") from exc
    except DockerException as exc:
        raise ExecutorError(f"cannot {action}: {exc}") from exc


def follow_logs(container: str) -> Iterator[bytes]:
    """``docker logs --follow`` of ``container`` (name or id): each frame as the engine sends
    it, until the container ends.

    On a client of its own (closed at the end), never on the shared one: the SDK's frame
    reader reads the socket under the HTTP layer, and a connection it leaves behind must not
    go back into the pool the scheduling calls use. No read timeout: a run may print nothing
    for an hour."""
    api = docker.APIClient(**docker.utils.kwargs_from_env(), timeout=None)
    try:
        stream = api.logs(container, stdout=True, stderr=True, stream=True, follow=True)
        try:
            yield from stream
        finally:
            close_stream(stream)
    finally:
        api.close()


def close_stream(stream: Any) -> None:
    """Close a streamed answer (``logs(stream=True)``) and its connection now: its socket is
    really closed, not left to the garbage collector (a ResourceWarning) when a reader stops
    before the engine ends the stream."""
    response = getattr(stream, "_response", None)
    if response is not None:
        with suppress(Exception):
            response.close()
