"""A signed push to a real `oven run` (real git remote, real HTTP, real engine): the change is
applied at once although polling is set to an hour; a bad signature changes nothing.

How fast "at once" is (docs/webhooks.md: about a second) is a figure of bench/push_latency.py,
not a bound here: a loaded machine can take longer than a second for the fetch and the apply
without a bug, while a hook that did not wake the daemon would leave the push for an hour."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from scenarios.harness import Daemon, make_bare, manifest, push_files, wait_until
from support import engine

from reconciler.hooks.verify import sign

pytestmark = pytest.mark.docker
SECRET = "webhook-secret-for-tests"
NEVER = {"type": "cron", "cron": "0 0 1 1 *"}  # applied, but no run starts during the test


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Daemon, Path]]:
    bare = make_bare(tmp_path / "config.git")
    push_files(bare, "main", {"jobs/a.yaml": manifest("a", schedule=NEVER)}, "first")
    instance = f"hook-{uuid.uuid4().hex[:8]}"
    client = engine.connect()
    daemon = Daemon(
        f"file://{bare}",
        tmp_path / "state",
        instance,
        "--interval",
        "3600",
        "--webhook-secret",
        "OVEN_TEST_HOOK",
    )
    daemon.start(env={"OVEN_TEST_HOOK": SECRET})
    try:
        yield daemon, bare
    finally:
        daemon.stop()
        engine.remove_containers(client, instance_prefix=instance)
        client.close()


def post(daemon: Daemon, body: bytes, signature: str, delivery: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{daemon.port}/hooks/git",
        data=body,
        method="POST",
        headers={
            "X-Hub-Signature-256": signature,
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_signed_push_is_applied_at_once(daemon: tuple[Daemon, Path]) -> None:
    oven, bare = daemon
    first = wait_until(lambda: oven.applied_revision(), 60, "the first revision applied")
    second = push_files(bare, "main", {"jobs/b.yaml": manifest("b", schedule=NEVER)}, "add b")
    body = b'{"ref": "refs/heads/main"}'

    assert post(oven, body, sign(b"wrong-secret-value", body), "bad-1") == 401
    time.sleep(1.5)
    assert oven.applied_revision() == first, "a bad signature made the daemon fetch"

    assert post(oven, body, sign(SECRET.encode(), body), "good-1") == 202
    # polling is an hour away: only the hook's wake-up applies the push within this wait
    wait_until(lambda: oven.applied_revision() == second, 60, "the pushed revision applied")
    assert post(oven, body, sign(SECRET.encode(), body), "good-1") == 200, "a replay is ignored"
    code, _, page = oven.get("/")
    assert code == 200 and "Scenario job b" in page, "the pages are served beside the hook"
