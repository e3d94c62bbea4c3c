"""The push webhook app over a real HTTP server (uvicorn on loopback): signatures of the three
forms, replays, size limits and methods; and the pure verification beside it."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from reconciler.hooks import create_hooks_app, verify
from reconciler.hooks.app import RecentIds
from reconciler.hooks.verify import sign
from reconciler.web.server import ServerHandle, serve_in_thread

# GitHub's documented test vector (docs.github.com, "Validating webhook deliveries")
GH_SECRET = "It's a Secret to Everybody"
GH_BODY = b"Hello, World!"
GH_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


@dataclass
class Hook:
    handle: ServerHandle
    pushes: list[int] = field(default_factory=list)

    def post(
        self, body: bytes, headers: dict[str, str], *, chunked: bool = False
    ) -> tuple[int, str]:
        host, port = self.handle.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            if chunked:
                conn.request(
                    "POST", "/hooks/git", body=iter([body]), headers=headers, encode_chunked=True
                )
            else:
                conn.request("POST", "/hooks/git", body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    pushes: list[int] = []
    handle = serve_in_thread(
        create_hooks_app(GH_SECRET, lambda: pushes.append(1), max_body=1024 * 1024, remember=4)
    )
    yield Hook(handle, pushes)
    handle.stop()


def github(signature: str, event: str = "push", delivery: str | None = None) -> dict[str, str]:
    headers = {"X-Hub-Signature-256": signature, "X-GitHub-Event": event}
    if delivery:
        headers["X-GitHub-Delivery"] = delivery
    return headers


def test_githubs_test_vector_is_accepted_and_a_one_byte_change_rejected(hook: Hook) -> None:
    assert sign(GH_SECRET.encode(), GH_BODY) == GH_SIGNATURE
    assert hook.post(GH_BODY, github(GH_SIGNATURE))[0] == 202
    assert hook.pushes == [1]
    changed_body = b"Hello, World?"
    assert hook.post(changed_body, github(GH_SIGNATURE))[0] == 401
    last = "f" if GH_SIGNATURE[-1] != "f" else "e"
    assert hook.post(GH_BODY, github(GH_SIGNATURE[:-1] + last))[0] == 401
    assert hook.post(GH_BODY, github(GH_SIGNATURE[:-1]))[0] == 401
    assert hook.post(GH_BODY, {"X-GitHub-Event": "push"})[0] == 401, "no signature"
    assert hook.pushes == [1], "a rejected delivery does nothing"


def test_ping_and_other_events_are_answered_without_a_fetch(hook: Hook) -> None:
    status, body = hook.post(GH_BODY, github(GH_SIGNATURE, "ping"))
    assert (status, json.loads(body)["message"]) == (200, "pong")
    assert hook.post(GH_BODY, github(GH_SIGNATURE, "issues"))[0] == 200
    assert hook.pushes == []


def test_a_replayed_delivery_id_is_ignored_and_memory_is_bounded(hook: Hook) -> None:
    assert hook.post(GH_BODY, github(GH_SIGNATURE, delivery="d-1"))[0] == 202
    status, body = hook.post(GH_BODY, github(GH_SIGNATURE, delivery="d-1"))
    assert status == 200 and "duplicate" in body
    assert hook.pushes == [1]
    for n in range(2, 7):  # remember=4: d-1 is forgotten after four newer ids
        assert hook.post(GH_BODY, github(GH_SIGNATURE, delivery=f"d-{n}"))[0] == 202
    assert hook.post(GH_BODY, github(GH_SIGNATURE, delivery="d-1"))[0] == 202
    assert len(hook.pushes) == 7


def test_bodies_over_one_megabyte_get_413_by_length_and_by_stream(hook: Hook) -> None:
    big = b"x" * (1024 * 1024 + 1)
    signature = sign(GH_SECRET.encode(), big)
    assert hook.post(big, github(signature))[0] == 413, "by Content-Length"
    assert hook.post(big, github(signature), chunked=True)[0] == 413, "by the streamed size"
    fits = b"x" * (1024 * 1024)
    assert hook.post(fits, github(sign(GH_SECRET.encode(), fits)), chunked=True)[0] == 202
    assert hook.pushes == [1]


def test_gitlab_token_and_the_generic_hmac_form(hook: Hook) -> None:
    gitlab = {
        "X-Gitlab-Token": GH_SECRET,
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Event-UUID": "g-1",
    }
    assert hook.post(b"{}", gitlab)[0] == 202
    assert hook.post(b"{}", gitlab)[0] == 200, "replayed"
    assert hook.post(b"{}", {**gitlab, "X-Gitlab-Token": GH_SECRET + "x"})[0] == 401
    generic = {"X-Oven-Signature": sign(GH_SECRET.encode(), b"payload")}
    assert hook.post(b"payload", generic)[0] == 202
    assert hook.post(b"payloae", generic)[0] == 401
    assert len(hook.pushes) == 2


def test_only_post_is_served(hook: Hook) -> None:
    host, port = hook.handle.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/hooks/git")
    assert conn.getresponse().status == 405
    conn.close()


def test_verify_is_pure_and_names_the_sender() -> None:
    delivery = verify(
        GH_SECRET,
        {"x-hub-signature-256": GH_SIGNATURE, "x-github-event": "ping", "x-github-delivery": "abc"},
        GH_BODY,
    )
    assert delivery is not None and (delivery.sender, delivery.kind, delivery.delivery_id) == (
        "github",
        "ping",
        "abc",
    )
    assert verify(GH_SECRET, {}, GH_BODY) is None
    recent = RecentIds(2)
    assert [recent.seen(x) for x in "abac"] == [False, False, True, False]
    assert recent.seen("b") is False, "b was the oldest and was forgotten"
