"""The pure rules every executor shares: labels, volume strings, resource limits, log paths."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import ExecutorError
from reconciler.executors import labels, limits, logfiles, volumes
from reconciler.interfaces import RunRequest


def test_labels_round_trip_every_run_field() -> None:
    request = RunRequest(
        run_id="nightly-20260301-020000-a2",
        job_id="nightly",
        trigger="retry",
        image="agent-oven/base-tasks",
        scheduled_for=datetime(2026, 3, 1, 2, 0, tzinfo=UTC),
        attempt=2,
        retry_of="nightly-20260301-020000",
        config_revision="c0ffee",
        idempotency_key="key-1",
    )
    written = labels.for_request(request, "prod")
    assert written[labels.SCHEDULED_FOR] == "2026-03-01T02:00:00Z"
    assert labels.run_fields(written) == {
        "run_id": request.run_id,
        "job_id": "nightly",
        "trigger": "retry",
        "config_revision": "c0ffee",
        "scheduled_for": request.scheduled_for,
        "attempt": 2,
        "retry_of": "nightly-20260301-020000",
        "idempotency_key": "key-1",
    }


def test_unset_optional_fields_are_not_labelled() -> None:
    written = labels.for_request(RunRequest("r", "j", "manual", "img"), "default")
    assert labels.SCHEDULED_FOR not in written
    assert labels.RETRY_OF not in written and labels.IDEMPOTENCY_KEY not in written
    assert labels.run_fields(written)["scheduled_for"] is None


@pytest.mark.parametrize(
    ("key", "stored_as_hash"),
    [("k" * 64, False), ("k" * 65, True)],
    ids=["64-characters-kept", "65-characters-hashed"],
)
def test_long_idempotency_keys_are_stored_as_their_hash(key: str, stored_as_hash: bool) -> None:
    value = labels.key_label(key)
    assert value.startswith("sha256:") is stored_as_hash
    assert labels.key_label(key) == value  # stable


def test_a_damaged_attempt_label_reads_as_the_first_attempt() -> None:
    assert labels.run_fields({labels.ATTEMPT: "two"})["attempt"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/srv/scripts:/scripts:ro", volumes.VolumeSpec("/srv/scripts", "/scripts", True)),
        ("/srv/data:/data", volumes.VolumeSpec("/srv/data", "/data", False)),
        ("/srv/data:/data:rw", volumes.VolumeSpec("/srv/data", "/data", False)),
        ("cache-vol:/cache", volumes.VolumeSpec("cache-vol", "/cache", False)),
    ],
)
def test_volume_strings_parse(text: str, expected: volumes.VolumeSpec) -> None:
    assert volumes.parse(text) == expected


def test_a_path_source_is_a_bind_and_a_name_is_a_volume() -> None:
    assert volumes.parse("/srv:/x").kind == "bind"
    assert volumes.parse("named:/x").kind == "volume"


@pytest.mark.parametrize(
    "text",
    ["/srv", "/srv:/a:ro:extra", ":/data", "/srv:", "/srv:/data:z", "/srv:relative", "a/b:/data"],
)
def test_bad_volume_strings_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(ExecutorError) as caught:
        volumes.parse(text)
    assert repr(text) in caught.value.message and caught.value.hint


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512m", 512 * 1024**2),
        ("2g", 2 * 1024**3),
        ("2G", 2 * 1024**3),
        ("1.5g", 1536 * 1024**2),
        ("65536k", 64 * 1024**2),
        ("7340032", 7 * 1024**2),
        ("64mb", 64 * 1024**2),
    ],
)
def test_memory_limits_use_docker_units(text: str, size: int) -> None:
    assert limits.memory_bytes(text) == size


@pytest.mark.parametrize("text", ["lots", "", "2 t", "-1m", "1m"])
def test_unusable_memory_limits_are_refused(text: str) -> None:
    with pytest.raises(ExecutorError):
        limits.memory_bytes(text)


def test_cpus_become_nano_cpus() -> None:
    assert limits.nano_cpus(1.5) == 1_500_000_000
    assert limits.nano_cpus(0.25) == 250_000_000
    with pytest.raises(ExecutorError):
        limits.nano_cpus(0)


def test_a_log_is_saved_redacted_under_job_and_run(tmp_path: Path) -> None:
    path = logfiles.save(
        tmp_path, "job", "run-1", b"secret=s3cr3t\n", lambda t: t.replace("s3cr3t", "***")
    )
    assert path == tmp_path / "logs" / "job" / "run-1.log"
    assert path.read_text() == "secret=***\n"
    assert list(path.parent.iterdir()) == [path]  # no partial file left behind


def test_a_log_without_redaction_keeps_its_bytes(tmp_path: Path) -> None:
    path = logfiles.save(tmp_path, "job", "run-1", b"\xff\x00raw")
    assert path.read_bytes() == b"\xff\x00raw"


@pytest.mark.parametrize(("job", "run"), [("../x", "r"), ("j", "a/b"), ("j", ".hidden"), ("", "r")])
def test_ids_that_would_escape_the_log_directory_are_refused(
    tmp_path: Path, job: str, run: str
) -> None:
    with pytest.raises(ExecutorError):
        logfiles.log_path(tmp_path, job, run)


def test_an_unwritable_log_directory_is_an_executor_error(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("a file where a directory should be")
    with pytest.raises(ExecutorError) as caught:
        logfiles.save(tmp_path, "job", "run-1", b"x")
    assert caught.value.hint


def test_swarm_service_names_are_dns_labels_that_keep_run_ids_apart() -> None:
    from reconciler.executors.swarm import service_name

    short = "nightly-20260301-020000"
    assert service_name(short) == "oven-nightly-20260301-020000"
    long_a, long_b = "a" * 70 + "-1", "a" * 70 + "-2"
    names = {service_name(long_a), service_name(long_b)}
    assert len(names) == 2 and all(len(name) <= 63 for name in names)
    assert service_name(long_a) == service_name(long_a)
