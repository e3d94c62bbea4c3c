"""Notifications from the real daemon on real git and the real Docker engine, to local servers
that answer like Slack and Discord: exactly the right messages, across a 429 and a restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from scenarios.harness import StatusBranch, manifest, push_files, wait_until
from support.chat_servers import ChatServer, chat_server

from reconciler.model import optional_time

pytestmark = pytest.mark.docker

OVEN_YAML = {
    "notifications": {
        "targets": {
            "team-slack": {"type": "slack", "urlSecret": "SCN_SLACK_URL"},
            "team-discord": {"type": "discord", "urlSecret": "SCN_DISCORD_URL"},
        },
        "reconciler": ["team-discord"],
    }
}
NOTIFY = {"targets": ["team-slack", "team-discord"]}


def titles(server: ChatServer) -> list[str]:
    out: list[str] = []
    for message in server.accepted:
        out.append(
            message["blocks"][0]["text"]["text"]
            if "blocks" in message
            else message["embeds"][0]["title"]
        )
    return out


def flaky(command: str) -> str:
    return manifest(
        "flaky",
        command=["sh", "-c", command],
        notifications=NOTIFY,
        schedule={"type": "interval", "every": "2s"},
    )


def test_failure_and_recovery_reach_slack_and_discord_once_across_a_429_and_a_restart(
    bare: Path, daemons: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with chat_server("slack", "429", retry_after=8) as slack, chat_server("discord") as discord:
        monkeypatch.setenv("SCN_SLACK_URL", slack.url)
        monkeypatch.setenv("SCN_DISCORD_URL", discord.url)
        push_files(
            bare,
            "main",
            {"oven.yaml": yaml.safe_dump(OVEN_YAML), "jobs/flaky.yaml": flaky("exit 3")},
            "a job that fails",
        )
        daemon = daemons(f"file://{bare}")
        wait_until(lambda: discord.accepted, 90, "the failure on Discord")
        wait_until(lambda: slack.statuses() == [429], 10, "Slack's 429")
        daemon.stop()  # within Slack's Retry-After: its message waits in the outbox
        assert slack.accepted == []

        push_files(bare, "main", {"jobs/flaky.yaml": flaky("exit 0")}, "fix the job")
        daemon.start()
        wait_until(lambda: len(discord.accepted) == 2, 90, "the recovery on Discord")
        wait_until(lambda: len(slack.accepted) == 2, 30, "failure and recovery on Slack")

        push_files(bare, "main", {"jobs/broken.yaml": "id: broken\nname: [oops\n"}, "break it")
        wait_until(lambda: len(discord.accepted) == 3, 60, "the bad commit on Discord")
        time.sleep(4)  # the job goes on succeeding: nothing more may arrive
        daemon.stop()

    assert titles(slack) == [
        "Scenario job flaky (flaky): failed",
        "Scenario job flaky (flaky): recovered",
    ]
    assert slack.statuses() == [429, 200, 200], "the failure once, after the 429, then the recovery"
    first_try, second_try = slack.requests[:2]
    assert second_try.at - first_try.at >= 8 - 0.1, "Retry-After honoured across the restart"
    assert titles(discord)[:2] == [
        "Scenario job flaky (flaky): failed",
        "Scenario job flaky (flaky): recovered",
    ]
    assert titles(discord)[2].endswith("has 1 manifest problem(s)")
    assert "jobs/broken.yaml:2" in discord.accepted[2]["embeds"][0]["description"]
    assert discord.statuses() == [204, 204, 204]
    output = daemon.output()
    assert "secret-token-path" not in output, "webhook URLs never reach the log"


def test_a_target_that_refuses_the_message_is_a_warning_on_the_page_and_in_metrics(
    bare: Path, daemons: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    oven_yaml = {
        "notifications": {
            "targets": {"team-slack": OVEN_YAML["notifications"]["targets"]["team-slack"]}
        }
    }
    with chat_server("slack", "400") as slack:
        monkeypatch.setenv("SCN_SLACK_URL", slack.url)
        job = manifest(
            "flaky",
            command=["sh", "-c", "exit 3"],
            notifications={"targets": ["team-slack"]},
            schedule={"type": "interval", "every": "2s"},
        )
        push_files(
            bare, "main", {"oven.yaml": yaml.safe_dump(oven_yaml), "jobs/flaky.yaml": job}, "fail"
        )
        daemon = daemons(f"file://{bare}")
        wait_until(lambda: slack.statuses() == [400], 90, "Slack's invalid_payload")
        page = wait_until(
            lambda: (text := daemon.get("/")[2]) and "cond-warnings" in text and text,
            30,
            "the warning on the overview",
        )
        metrics = daemon.get("/metrics")[2]
    assert "notification target team-slack is not answering: HTTP 400: invalid_payload" in page
    assert 'oven_notification_target_dead{target="team-slack"} 1.0' in metrics
    assert 'oven_notifications_given_up_total{target="team-slack"} 1.0' in metrics
    assert slack.statuses() == [400], "a refused message is not sent again"


def test_a_target_that_never_answers_delays_no_run(
    bare: Path, daemons: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    oven_yaml = {
        "notifications": {
            "targets": {"team-slack": OVEN_YAML["notifications"]["targets"]["team-slack"]}
        }
    }
    with chat_server("slack", "hang", "hang", "hang") as slack:
        monkeypatch.setenv("SCN_SLACK_URL", slack.url)
        job = manifest(
            "flaky",
            command=["sh", "-c", "exit 3"],
            notifications={"targets": ["team-slack"]},
            schedule={"type": "interval", "every": "2s"},
        )
        push_files(
            bare, "main", {"oven.yaml": yaml.safe_dump(oven_yaml), "jobs/flaky.yaml": job}, "go"
        )
        daemons(f"file://{bare}")
        wait_until(lambda: len(slack.script) < 3, 90, "the first post to hang")  # it took one
        hung_at = datetime.now(UTC)
        status = StatusBranch(bare)

        def later_runs() -> list[dict[str, Any]]:
            return [
                r
                for r in status.runs("flaky")
                if r["status"] == "failed" and optional_time(r["scheduled_for"]) > hung_at
            ]

        runs = wait_until(lambda: len(later_runs()) >= 4 and later_runs(), 60, "runs while hanging")
        assert slack.accepted == [], "the target is still not answering"
    late = [
        (optional_time(r["started_at"]) - optional_time(r["scheduled_for"])).total_seconds()
        for r in runs
    ]
    assert max(late) < 5, f"runs started late while the target hung: {late}"
