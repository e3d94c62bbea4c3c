"""Valid manifests of both job types become complete JobSpecs, with oven.yaml defaults applied."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from reconciler.manifests import load_tree, parse_job
from reconciler.model import Notifications, Policy, Resources, Retries, Schedule, Source

from .conftest import ALLOWLIST, DOCKER_JOB, OVEN


def test_docker_job_gets_every_field_with_defaults_from_oven_yaml(good_files) -> None:
    state = load_tree(good_files, "rev-1", ALLOWLIST)
    assert state.problems == () and state.revision == "rev-1"
    job = state.jobs["backup-db"]
    assert (job.id, job.name, job.type, job.path) == (
        "backup-db",
        "Database backup",
        "docker",
        "jobs/backup.yaml",
    )
    assert job.schedule == Schedule("cron", cron="0 4 * * *", timezone="Europe/Berlin")
    assert job.policy == Policy("forbid", "latest", starting_deadline=600, max_catch_up=10)
    assert job.retries == Retries(limit=2, backoff=30.0)
    assert job.resources == Resources(timeout=1800, memory="1g", cpus=None)
    assert job.notifications == Notifications(targets=("team-slack",))
    assert job.env == (("LOG_LEVEL", "info"),)
    assert job.image == "agent-oven/base-tasks"
    assert job.command == ("sh", "/scripts/backup.sh")
    assert (job.source, job.pipeline, job.auth, job.model) == (None, None, None, None)
    assert job.enabled is True and job.description == "" and job.owner == ""


def test_agent_pipeline_job_keeps_its_own_time_zone_and_gets_default_auth(good_files) -> None:
    job = load_tree(good_files, "rev-1", ALLOWLIST).jobs["nightly-review"]
    assert job.type == "agent-pipeline" and job.path == "jobs/review/nightly.yml"
    assert job.source == Source(repo="git@github.com:myorg/myapp.git", branch="main")
    assert job.pipeline == "post-commit-example"
    assert job.auth == "oauth-token", "the default: unattended runs need a lasting token"
    assert job.schedule.timezone == "America/Los_Angeles"
    assert job.image is None and job.command == () and job.volumes == ()


def test_job_values_win_over_defaults_and_mappings_merge_key_by_key() -> None:
    text = DOCKER_JOB + (
        "policy: {concurrency: replace}\n"
        "resources: {memory: 256m, cpus: 0.5}\n"
        "env: {LOG_LEVEL: debug, BACKUP_PATH: /data}\n"
        "notifications: {targets: [ops-hook], onSuccess: true}\n"
    )
    job = load_tree({"oven.yaml": OVEN.encode(), "jobs/a.yaml": text.encode()}, "r").jobs[
        "backup-db"
    ]
    assert job.policy == Policy("replace", "latest", starting_deadline=600, max_catch_up=10)
    assert job.resources == Resources(timeout=1800, memory="256m", cpus=0.5)
    assert job.env == (("BACKUP_PATH", "/data"), ("LOG_LEVEL", "debug"))
    assert job.notifications == Notifications(targets=("ops-hook",), on_success=True)


def test_all_schedule_kinds_and_optional_fields() -> None:
    text = """\
id: everything
name: Every field
type: docker
description: Uses every optional field
owner: platform-team
enabled: false
image: busybox:1.36
command: echo "hello $NAME"
volumes: ["/srv/oven/scripts:/scripts:ro", "cache-vol:/cache", "/srv/oven:/work:rw"]
env: {NAME: world, EMPTY: ""}
secrets: [GITHUB_TOKEN, ANTHROPIC_API_KEY]
schedule: {type: interval, every: 2h}
policy: {concurrency: allow, missed: all, startingDeadline: 30, maxCatchUp: 3}
retries: {limit: 10, backoff: 2.5}
resources: {timeout: 60, memory: 1.5g, cpus: 2}
notifications: {onFailure: false, onSuccess: true, onRecovery: false}
"""
    job, problems = parse_job("jobs/every.yaml", text.encode(), volume_allowlist=ALLOWLIST)
    assert problems == [] and job is not None
    assert job.command == ("sh", "-c", 'echo "hello $NAME"')
    assert job.schedule == Schedule("interval", every=timedelta(hours=2))
    assert job.volumes == (
        "/srv/oven/scripts:/scripts:ro",
        "cache-vol:/cache",
        "/srv/oven:/work:rw",
    )
    assert job.secrets == ("GITHUB_TOKEN", "ANTHROPIC_API_KEY")
    assert job.env == (("EMPTY", ""), ("NAME", "world"))
    assert job.policy == Policy("allow", "all", starting_deadline=30, max_catch_up=3)
    assert job.retries == Retries(limit=10, backoff=2.5)
    assert job.resources == Resources(timeout=60, memory="1.5g", cpus=2.0)
    assert job.notifications == Notifications(
        (), on_failure=False, on_success=True, on_recovery=False
    )
    assert (job.enabled, job.owner, job.description) == (
        False,
        "platform-team",
        "Uses every optional field",
    )


def test_once_manual_and_cron_alias_schedules() -> None:
    base = "id: s\nname: S\ntype: docker\nimage: busybox\n"
    once, _ = parse_job(
        "jobs/s.yaml", (base + "schedule: {type: once, at: 2026-12-01T10:00:00+01:00}\n").encode()
    )
    manual, _ = parse_job("jobs/s.yaml", (base + "schedule: {type: manual}\n").encode())
    daily, _ = parse_job(
        "jobs/s.yaml", (base + "schedule: {type: cron, cron: '@daily'}\n").encode()
    )
    assert once is not None and once.schedule == Schedule(
        "once", at=datetime(2026, 12, 1, 9, tzinfo=UTC)
    )
    assert manual is not None and manual.schedule == Schedule("manual")
    assert daily is not None and daily.schedule == Schedule("cron", cron="@daily", timezone="UTC")


def test_manifest_holds_the_full_canonical_job_including_defaults(good_files) -> None:
    job = load_tree(good_files, "r", ALLOWLIST).jobs["backup-db"]
    manifest = json.loads(job.manifest)
    assert manifest["policy"] == {
        "concurrency": "forbid",
        "missed": "latest",
        "maxCatchUp": 10,
        "startingDeadline": 600,
    }
    assert manifest["schedule"] == {
        "type": "cron",
        "cron": "0 4 * * *",
        "timezone": "Europe/Berlin",
    }
    assert manifest["enabled"] is True and manifest["env"] == {"LOG_LEVEL": "info"}


def test_fingerprint_ignores_comments_order_and_quoting_but_sees_every_change(good_files) -> None:
    def fingerprint(files: dict[str, bytes]) -> str:
        return load_tree(files, "r", ALLOWLIST).jobs["backup-db"].fingerprint

    before = fingerprint(good_files)
    reordered = "# a comment\nname: 'Database backup'\n" + DOCKER_JOB.replace(
        "name: Database backup\n", ""
    )
    assert fingerprint({**good_files, "jobs/backup.yaml": reordered.encode()}) == before
    changed = DOCKER_JOB.replace("0 4 * * *", "0 5 * * *")
    assert fingerprint({**good_files, "jobs/backup.yaml": changed.encode()}) != before
    new_default = OVEN.replace("timeout: 1800", "timeout: 900")
    assert fingerprint({**good_files, "oven.yaml": new_default.encode()}) != before
    moved = {k: v for k, v in good_files.items() if k != "jobs/backup.yaml"}
    moved["jobs/db/backup.yml"] = good_files["jobs/backup.yaml"]
    assert fingerprint(moved) == before, "moving a file does not change the job"


def test_other_files_are_ignored_and_no_oven_yaml_means_no_defaults() -> None:
    files = {
        "README.md": b"# config",
        "jobs/notes.txt": b"not a job",
        "scripts/job.yaml": b"id: [not, a, job]",
        "jobs/backup.yaml": DOCKER_JOB.encode(),
    }
    state = load_tree(files, "r")
    assert state.problems == () and list(state.jobs) == ["backup-db"]
    assert state.jobs["backup-db"].resources == Resources()


def test_volume_allowlist_none_skips_only_the_allow_list_check() -> None:
    text = DOCKER_JOB + "volumes: ['/var/data:/data']\n"
    job, problems = parse_job("jobs/a.yaml", text.encode(), volume_allowlist=None)
    assert problems == [] and job is not None and job.volumes == ("/var/data:/data",)
    _, refused = parse_job("jobs/a.yaml", text.encode())
    assert [str(p) for p in refused] == [
        "jobs/a.yaml:9: volumes[0]: host path '/var/data' is not allowed: "
        "the reconciler's volume allow-list is empty"
    ]


def test_symlink_out_of_the_allow_list_is_refused(tmp_path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "etc").symlink_to("/etc")
    text = DOCKER_JOB + f"volumes: ['{allowed}/etc:/host-etc:ro', '{allowed}:/data']\n"
    _, problems = parse_job("jobs/a.yaml", text.encode(), volume_allowlist=[str(allowed)])
    assert [str(p) for p in problems] == [
        f"jobs/a.yaml:9: volumes[0]: host path '{allowed}/etc' is outside the volume "
        f"allow-list ({allowed})"
    ]


def test_yaml_timestamps_and_norway_stay_as_written() -> None:
    text = DOCKER_JOB.replace('schedule:\n  type: cron\n  cron: "0 4 * * *"\n', "") + (
        "schedule:\n  type: once\n  at: 2026-12-01T09:00:00Z\nenv: {COUNTRY: 'NO'}\n"
    )
    job, problems = parse_job("jobs/a.yaml", text.encode())
    assert problems == [] and job is not None
    assert job.schedule.at == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert job.env == (("COUNTRY", "NO"),)
