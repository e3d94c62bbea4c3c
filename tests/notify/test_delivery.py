"""The notifier against real local HTTP servers that answer like Slack and Discord."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.chat_servers import ChatServer, chat_server

from reconciler.clock import SystemClock
from reconciler.model import NotifySettings, NotifyTarget
from reconciler.notify import Notifier, Outbox
from reconciler.notify.delivery import SIGNATURE_HEADER
from reconciler.notify.outbox import OUTBOX_FILE
from reconciler.secrets import SecretStore
from reconciler.telemetry import Telemetry
from reconciler.transitions import Event


def event(key: str, *targets: str, kind: str = "failed") -> Event:
    return Event(
        key=key,
        kind=kind,  # type: ignore[arg-type]
        title=f"Backup (backup): {kind} <@channel>",
        text="Run backup-01 failed: exited with 3",
        targets=targets,
        job_id="backup",
        run_id="backup-01",
        fields=(("job", "backup"), ("run", "backup-01")),
    )


def wait_for(probe: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


class Setup:
    def __init__(self, state: Path, servers: dict[str, ChatServer], **options: Any) -> None:
        self.state, self.servers, self.options = state, servers, options
        self.telemetry = Telemetry()
        self.secrets = SecretStore(
            {f"URL_{n.upper()}": s.url for n, s in servers.items()}
            | {"HOOK_KEY": "a-long-signing-secret"}
        )
        self.settings = NotifySettings(
            tuple(
                NotifyTarget(
                    n,
                    s.kind,
                    f"URL_{n.upper()}",  # type: ignore[arg-type]
                    "HOOK_KEY" if s.kind == "webhook" else None,
                )
                for n, s in servers.items()
            ),
            tuple(servers),
        )

    def notifier(self) -> Notifier:
        options = {"base": 0.2, "cap": 2.0, "timeout": 2.0} | self.options
        notifier = Notifier(
            Outbox.open(self.state), self.secrets, SystemClock(), self.telemetry, **options
        )
        notifier.configure(self.settings)
        return notifier

    def sample(self, name: str, **labels: str) -> float:
        value = self.telemetry.registry.get_sample_value(name, labels or None)
        return value or 0.0


@pytest.fixture
def started() -> Iterator[list[Notifier]]:
    notifiers: list[Notifier] = []
    yield notifiers
    for notifier in notifiers:
        notifier.stop()


def start(notifier: Notifier, started: list[Notifier]) -> Notifier:
    notifier.start()
    started.append(notifier)
    return notifier


def send(notifier: Notifier, *events: Event) -> None:
    notifier.outbox.add(events, datetime.now(UTC))
    notifier.wake()


def test_slack_and_discord_get_their_documented_message_forms(tmp_path: Path, started) -> None:
    with chat_server("slack") as slack, chat_server("discord") as discord:
        setup = Setup(tmp_path, {"team-slack": slack, "team-discord": discord})
        notifier = start(setup.notifier(), started)
        send(notifier, event("run/backup-01/failed", "team-slack", "team-discord"))
        (to_slack,) = wait_for(lambda: slack.accepted)
        (to_discord,) = wait_for(lambda: discord.accepted)
    assert slack.statuses() == [200] and discord.statuses() == [204]
    assert to_slack["text"] == ":x: Backup (backup): failed &lt;@channel&gt;"
    assert [b["type"] for b in to_slack["blocks"]] == ["header", "section", "section"]
    assert to_slack["blocks"][1]["text"]["text"] == "Run backup-01 failed: exited with 3"
    assert to_discord["content"] == "Backup (backup): failed <@channel>"
    assert to_discord["allowed_mentions"] == {"parse": []}, "no text from a run pings anyone"
    (embed,) = to_discord["embeds"]
    assert embed["description"] == "Run backup-01 failed: exited with 3"
    assert {"name": "run", "value": "backup-01", "inline": True} in embed["fields"]
    assert setup.sample("oven_notifications_sent_total", target="team-slack") == 1.0


@pytest.mark.parametrize(("kind", "wait"), [("slack", 1.0), ("discord", 0.7)])
def test_a_429_is_retried_once_after_the_time_it_names(
    tmp_path: Path, started, kind: str, wait: float
) -> None:
    with chat_server(kind, "429", retry_after=wait) as server:
        setup = Setup(tmp_path, {"chat": server}, base=0.05)
        notifier = start(setup.notifier(), started)
        send(notifier, event("run/backup-01/failed", "chat"), event("run/backup-02/failed", "chat"))
        wait_for(lambda: len(server.accepted) == 2)
        time.sleep(0.5)  # nothing more arrives
    assert server.statuses() == [
        429,
        200 if kind == "slack" else 204,
        200 if kind == "slack" else 204,
    ]
    first, second = server.requests[:2]
    assert second.at - first.at >= wait - 0.05, "the 429's wait is honoured, not our 0.05s"
    assert second.raw == first.raw, "the same message again, in order"
    assert [m.get("text") or m.get("content") for m in server.accepted] == [
        (":x: " if kind == "slack" else "")
        + "Backup (backup): failed "
        + ("&lt;@channel&gt;" if kind == "slack" else "<@channel>")
    ] * 2
    assert setup.sample("oven_notification_failures_total", target="chat") == 1.0
    assert notifier.warnings() == []


def test_invalid_payload_is_given_up_and_the_target_is_dead_until_it_answers(
    tmp_path: Path, started
) -> None:
    with chat_server("slack", "400") as slack:
        setup = Setup(tmp_path, {"team-slack": slack})
        notifier = start(setup.notifier(), started)
        send(notifier, event("run/backup-01/failed", "team-slack"))
        wait_for(lambda: notifier.warnings())
        assert notifier.warnings() == [
            "notification target team-slack is not answering: HTTP 400: invalid_payload"
        ]
        assert slack.statuses() == [400], "a 4xx is not sent again"
        (entry,) = Outbox.open(tmp_path).entries.values()
        assert entry.gave_up_at is not None and entry.last_error == "HTTP 400: invalid_payload"
        assert setup.sample("oven_notification_target_dead", target="team-slack") == 1.0
        assert setup.sample("oven_notifications_given_up_total", target="team-slack") == 1.0

        send(notifier, event("run/backup-02/recovered", "team-slack", kind="recovered"))
        wait_for(lambda: slack.accepted)
        wait_for(lambda: not notifier.warnings())
        assert setup.sample("oven_notification_target_dead", target="team-slack") == 0.0


def test_pending_messages_are_sent_after_a_restart_and_only_once(tmp_path: Path, started) -> None:
    with chat_server("discord") as discord:
        setup = Setup(tmp_path, {"chat": discord})
        before_crash = setup.notifier()  # never started: the daemon stopped before delivering
        before_crash.outbox.add([event("run/backup-01/failed", "chat")], datetime.now(UTC))
        assert discord.requests == []

        after = start(setup.notifier(), started)
        wait_for(lambda: discord.accepted)
        after.outbox.add([event("run/backup-01/failed", "chat")], datetime.now(UTC))  # seen again
        after.wake()
        time.sleep(0.5)
        after.stop()

        again = start(setup.notifier(), started)  # a second restart
        again.outbox.add([event("run/backup-01/failed", "chat")], datetime.now(UTC))
        again.wake()
        time.sleep(0.5)
    assert len(discord.requests) == 1, "exactly once across restarts"
    saved = json.loads((tmp_path / OUTBOX_FILE).read_text())
    assert [e["delivered_at"] is not None for e in saved["entries"]] == [True]
    assert discord.url not in (tmp_path / OUTBOX_FILE).read_text(), "no URL in the state dir"


HANG_TIMEOUT = 4.0  # the notifier's timeout for the target that never answers


def test_a_target_that_never_answers_delays_nothing_and_is_retried(
    tmp_path: Path, started, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "oven")
    with chat_server("slack", "hang") as slack:
        setup = Setup(tmp_path, {"team-slack": slack}, timeout=HANG_TIMEOUT)
        notifier = start(setup.notifier(), started)
        send(notifier, event("run/backup-01/failed", "team-slack"))
        wait_for(lambda: slack.requests or slack.script == [])  # the worker is now waiting
        begin = time.monotonic()
        send(notifier, event("run/backup-02/failed", "team-slack"))  # what a cycle does
        # a send that waited for the worker would return only when the hung post times out,
        # nearly HANG_TIMEOUT from now; queuing itself (two fsyncs) may take a good part of a
        # second on a loaded disk, so the bound is half the timeout, not a guess of disk speed
        assert time.monotonic() - begin < HANG_TIMEOUT / 2, "queuing never waits for a target"
        wait_for(lambda: len(slack.accepted) == 2)
    assert slack.statuses().count(200) == 2, "each message once, after the timed-out one"
    assert "no answer in time" in caplog.text
    assert slack.path not in caplog.text and "secret-token-path" not in caplog.text


def test_a_generic_webhook_is_signed_with_hmac_sha256(tmp_path: Path, started) -> None:
    with chat_server("webhook") as hook:
        setup = Setup(tmp_path, {"ops": hook})
        notifier = start(setup.notifier(), started)
        send(notifier, event("run/backup-01/failed", "ops"))
        wait_for(lambda: hook.accepted)
    (request,) = hook.requests
    expected = hmac.new(b"a-long-signing-secret", request.raw, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert request.headers["X-Oven-Event"] == "failed"
    assert request.headers["X-Oven-Delivery"] == "run/backup-01/failed"
    body = request.body
    assert (body["schema_version"], body["kind"], body["run_id"]) == (1, "failed", "backup-01")
    assert body["fields"] == {"job": "backup", "run": "backup-01"}


def test_a_missing_url_secret_is_a_failure_that_names_the_secret(tmp_path: Path, started) -> None:
    with chat_server("slack") as slack:
        setup = Setup(tmp_path, {"team-slack": slack}, dead_after=2)
        setup.secrets = SecretStore({})
        notifier = start(setup.notifier(), started)
        send(notifier, event("run/backup-01/failed", "team-slack"))
        wait_for(lambda: notifier.warnings(), timeout=10)
    assert "URL_TEAM-SLACK" in notifier.warnings()[0] and slack.requests == []


def test_an_unreadable_outbox_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / OUTBOX_FILE).write_text("{not json")
    assert Outbox.open(tmp_path).entries == {}
    assert (tmp_path / (OUTBOX_FILE + ".unreadable")).read_text() == "{not json"
