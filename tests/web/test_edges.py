"""Edges of the web server: /readyz follows Ready, a 500 keeps the security headers, requests
for a host the daemon does not serve get 400 (DNS rebinding), a ``since`` out of range is a 400,
and /metrics counts contained bugs. Served by a real uvicorn on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconciler.status.view import Snapshot
from reconciler.web.app import create_app
from reconciler.web.security import SECURITY_HEADERS, allowed_hosts
from reconciler.web.server import serve_in_thread


def not_ready(snapshot: Snapshot, reason: str = "UnexpectedError") -> Snapshot:
    conditions = [
        {**c, "status": "False", "reason": reason, "message": "schedule: unexpected KeyError"}
        if c["type"] == "Ready"
        else c
        for c in snapshot.reconciler["conditions"]
    ]
    return replace(snapshot, reconciler={**snapshot.reconciler, "conditions": conditions})


async def crash(request: Request) -> Response:
    raise RuntimeError("a bug in a route")


@pytest.fixture
def served(box) -> Iterator[tuple[httpx.Client, object]]:  # type: ignore[no-untyped-def]
    app = create_app(
        box,
        extra_routes=[Route("/api/v1/crash", crash), Route("/crash", crash)],
        allowed_hosts=allowed_hosts("127.0.0.1", ["oven.example.com"]),
    )
    handle = serve_in_thread(app)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client, box
    handle.stop()


def has_security_headers(response: httpx.Response) -> bool:
    return all(response.headers.get(name) == value for name, value in SECURITY_HEADERS.items())


def test_readyz_is_503_whenever_ready_is_false(served) -> None:  # type: ignore[no-untyped-def]
    client, box = served
    assert client.get("/readyz").json() == {"status": "ready"}
    box.set(not_ready(box()))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "reason": "UnexpectedError",
        "message": "schedule: unexpected KeyError",
    }
    box.set(not_ready(box(), reason="ManifestProblems"))
    assert client.get("/readyz").status_code == 503


@pytest.mark.parametrize(("path", "kind"), [("/api/v1/crash", "json"), ("/crash", "text")])
def test_a_500_carries_the_security_headers_and_a_hint(served, path: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = served
    response = client.get(path)
    assert response.status_code == 500
    assert has_security_headers(response) and response.headers["cache-control"] == "no-store"
    assert kind in response.headers["content-type"]
    assert "reconciler's log" in response.text and "a bug in a route" not in response.text
    assert client.get("/healthz").status_code == 200, "and the server goes on"


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost:1234", "LOCALHOST", "[::1]:8080", "oven.example.com"]
)
def test_the_listen_address_localhost_and_allowed_hosts_are_served(served, host: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = served
    assert client.get("/api/v1/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "x@localhost", "a b"]
)
def test_any_other_host_gets_400(served, host: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = served
    response = client.get("/api/v1/jobs", headers={"Host": host})
    assert response.status_code == 400
    assert "--allowed-host" in response.text and has_security_headers(response)


def test_a_star_allows_any_host(box) -> None:  # type: ignore[no-untyped-def]
    handle = serve_in_thread(create_app(box, allowed_hosts=allowed_hosts("0.0.0.0", ["*"])))
    try:
        response = httpx.get(f"{handle.url}/healthz", headers={"Host": "anything.example"})
        assert response.status_code == 200
    finally:
        handle.stop()


def test_listening_everywhere_serves_only_localhost_and_named_hosts() -> None:
    assert allowed_hosts("0.0.0.0") == ("localhost", "127.0.0.1", "::1")
    assert allowed_hosts("::", ["Oven.Example.com"])[-1] == "oven.example.com"
    assert allowed_hosts("[fd00::5]")[-1] == "fd00::5"


@pytest.mark.parametrize(
    "since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "99999-01-01"]
)
def test_since_out_of_range_is_a_400(served, since: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = served
    response = client.get("/api/v1/runs", params={"since": since})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"since={since!r}")


def test_metrics_count_contained_bugs_by_step(served) -> None:  # type: ignore[no-untyped-def]
    client, box = served
    assert "oven_unexpected_errors_total{" not in client.get("/metrics").text
    box.set(replace(box(), unexpected_errors={"observe": 0, "schedule": 3}))
    text = client.get("/metrics").text
    assert 'oven_unexpected_errors_total{step="schedule"} 3.0' in text
    assert 'oven_unexpected_errors_total{step="observe"} 0.0' in text
    assert "# TYPE oven_unexpected_errors_total counter" in text
