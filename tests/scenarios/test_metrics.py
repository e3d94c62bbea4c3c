"""`/metrics` and the health snapshot of the real daemon after real runs on the real Docker
engine; and docs/metrics.md checked against that exposition (every metric it lists and every
metric its alert rules use exists; every metric exposed is documented)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from scenarios.harness import ROOT, StatusBranch, git, manifest, push_files, wait_until
from support.chat_servers import chat_server

from reconciler.model import optional_time

pytestmark = pytest.mark.docker

DOC = ROOT / "docs" / "metrics.md"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def final_run(status: StatusBranch, job_id: str) -> dict[str, Any] | None:
    runs = [r for r in status.runs(job_id) if r["status"] in ("succeeded", "failed")]
    return runs[0] if runs else None


def test_metrics_count_real_runs_and_the_docs_name_only_real_metrics(
    bare: Path, daemons: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    oven_yaml = {
        "notifications": {"targets": {"chat": {"type": "discord", "urlSecret": "SCN_METRICS_URL"}}}
    }
    with chat_server("discord", "429", retry_after=0.5) as discord:
        monkeypatch.setenv("SCN_METRICS_URL", discord.url)
        push_files(bare, "main", {"oven.yaml": yaml.safe_dump(oven_yaml)}, "targets")
        daemon = daemons(f"file://{bare}")
        wait_until(daemon.applied_revision, 90, "the daemon up and applying")  # then add jobs
        at = (datetime.now(UTC) + timedelta(seconds=15)).replace(microsecond=0)
        once = {"type": "once", "at": at.isoformat().replace("+00:00", "Z")}
        bad_job = manifest(
            "bad",
            schedule=once,
            command=["sh", "-c", "exit 3"],
            notifications={"targets": ["chat"]},
        )
        push_files(
            bare,
            "main",
            {"jobs/ok.yaml": manifest("ok", schedule=once), "jobs/bad.yaml": bad_job},
            "two jobs that run once",
        )
        revision = git("--git-dir", str(bare), "rev-parse", "main").strip()
        wait_until(lambda: daemon.applied_revision() == revision, 30, "the jobs applied")
        assert datetime.now(UTC) < at, "the machine is too slow: the jobs came after their time"
        status = StatusBranch(bare)
        ok = wait_until(lambda: final_run(status, "ok"), 90, "the run of ok")
        bad = wait_until(lambda: final_run(status, "bad"), 30, "the run of bad")
        wait_until(lambda: discord.accepted, 30, "the failure of bad on Discord")

        def settled() -> tuple[str, dict[str, Any]] | None:
            # Discord has the message before the notifier hears its answer and counts it, and
            # the status branch has bad's run before the cycle counts it and publishes the
            # health (after its push): one read of each right now can be a moment early
            code, _, text = daemon.get("/metrics")
            assert code == 200, text
            health = daemon.get_json("/api/v1/health")
            sent = value(samples(text), "oven_notifications_sent_total", target="chat") or 0
            return (text, health) if sent >= 1 and health["runs_last_24h"] >= 2 else None

        text, health = wait_until(settled, 30, "the delivery and both runs counted")
    found = samples(text)

    assert value(found, "oven_runs_finished_total", job="ok", outcome="succeeded") == 1.0
    assert value(found, "oven_runs_finished_total", job="bad", outcome="failed") == 1.0
    assert value(found, "oven_run_duration_seconds_count", job="ok") == 1.0
    assert value(found, "oven_run_duration_seconds_sum", job="ok") == pytest.approx(
        ok["duration_s"], abs=0.002
    )
    started, nominal = optional_time(ok["started_at"]), optional_time(ok["scheduled_for"])
    assert started and nominal and nominal == at
    assert value(found, "oven_schedule_lateness_seconds_count", job="ok") == 1.0
    assert value(found, "oven_schedule_lateness_seconds_sum", job="ok") == pytest.approx(
        (started - nominal).total_seconds(), abs=0.002
    )
    assert (value(found, "oven_reconcile_duration_seconds_count") or 0) >= 3
    assert value(found, "oven_status_push_failures_total") == 0.0
    assert (value(found, "oven_status_commits_total") or 0) >= 2
    assert value(found, "oven_applied_revision_info", revision=revision) == 1.0
    assert value(found, "oven_notification_failures_total", target="chat") == 1.0  # the 429
    assert value(found, "oven_notifications_sent_total", target="chat") == 1.0
    assert value(found, "oven_notification_target_dead", target="chat") == 0.0

    durations = sorted([ok["duration_s"], bad["duration_s"]])
    assert (health["runs_last_24h"], health["runs_per_day"]) == (2, 2.0)
    assert health["p95_duration_s"] == durations[-1]

    check_docs_against(text)


def check_docs_against(exposition: str) -> None:
    families = list(text_string_to_metric_families(exposition))
    exposed = {f.name for f in families} | {s.name for f in families for s in f.samples}
    suffix = {"counter": "_total", "info": "_info"}  # declared, if without a sample yet
    exposed |= {f.name + suffix[f.type] for f in families if f.type in suffix}
    doc = DOC.read_text()
    rules = yaml.safe_load(re.search(r"```yaml\n(.*?)```", doc, re.S).group(1))  # type: ignore[union-attr]
    used = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in re.findall(r"\boven_[a-z0-9_]+", rule["expr"])
    }
    assert len(used) >= 10
    assert used <= exposed, f"alert rules name metrics that do not exist: {used - exposed}"
    listed = set(re.findall(r"^\| `(oven_[a-z0-9_]+)`", doc, re.M))
    assert listed <= exposed, f"docs/metrics.md lists metrics that do not exist: {listed - exposed}"
    ours = {f.name for f in families if f.name.startswith("oven_")}
    ours = {n for n in ours if not (n.endswith("_created") and n[: -len("_created")] in ours)}
    undocumented = {name for name in ours if not ({name, f"{name}_total", f"{name}_info"} & listed)}
    assert not undocumented, f"metrics missing from docs/metrics.md: {undocumented}"
