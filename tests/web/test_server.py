"""The app behind a real uvicorn server on 127.0.0.1, spoken to with httpx over TCP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from reconciler.errors import OvenError
from reconciler.status.view import Snapshot
from reconciler.web.app import create_app
from reconciler.web.server import ServerHandle, serve, serve_in_thread


@pytest.fixture
def server(box) -> Iterator[ServerHandle]:  # type: ignore[no-untyped-def]
    handle = serve_in_thread(create_app(box), "127.0.0.1", 0)
    yield handle
    handle.stop()


def test_real_server_serves_pages_api_and_metrics(server: ServerHandle, xss: str) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        page = client.get("/")
        assert page.status_code == 200 and xss not in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
        runs = client.get("/api/v1/runs", params={"job": "backup", "status": "failed"}).json()
        assert [r["run_id"] for r in runs["runs"]] == ["backup-20260301-095500"]
        assert client.get("/api/v1/runs", params={"since": "soon"}).status_code == 400
        assert client.post("/").status_code == 405
        assert "oven_jobs 3.0" in client.get("/metrics").text


def test_real_server_reflects_snapshot_changes(box, server: ServerHandle, sample: Snapshot) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get("/api/v1/jobs/idle").status_code == 200
        box.set(replace(sample, jobs={k: v for k, v in sample.jobs.items() if k != "idle"}))
        assert client.get("/api/v1/jobs/idle").status_code == 404
        assert client.get("/jobs/idle").status_code == 404


def test_stop_closes_the_port(box) -> None:  # type: ignore[no-untyped-def]
    handle = serve_in_thread(create_app(box))
    assert httpx.get(handle.url + "/healthz", timeout=5).status_code == 200
    handle.stop()
    assert not handle.thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(handle.url + "/healthz", timeout=2)


def test_taken_port_is_a_clear_error(box) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(OvenError) as caught:
            serve_in_thread(create_app(box), "127.0.0.1", port)
    assert f"127.0.0.1:{port}" in caught.value.message
    assert caught.value.hint


def test_async_serve_runs_in_the_callers_loop_and_stops_on_cancel(box) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> tuple[int, dict[str, object]]:
        task = asyncio.create_task(serve(create_app(box), "127.0.0.1", port))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(200):
                try:
                    response = await client.get("/api/v1/health")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return response.status_code, response.json()

    status, health = asyncio.run(scenario())
    assert status == 200 and health["jobs"] == 3
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
