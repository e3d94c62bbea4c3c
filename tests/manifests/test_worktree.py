"""Reading a config repo from disk, including the repo's own config-example/."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.errors import SourceError
from reconciler.manifests import Symlink, read_worktree, validate_worktree
from reconciler.manifests.safe_yaml import MAX_BYTES

from .conftest import AGENT_JOB, DOCKER_JOB, OVEN

EXAMPLE = Path(__file__).resolve().parents[2] / "config-example"


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def test_reads_oven_yaml_and_jobs_only(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "oven.yaml": OVEN,
            "jobs/backup.yaml": DOCKER_JOB,
            "jobs/deep/er/review.yml": AGENT_JOB,
            "jobs/notes.md": "x",
            "README.md": "x",
            "other/job.yaml": "x",
            "status/jobs/x.yaml": "x",
        },
    )
    assert sorted(read_worktree(tmp_path)) == [
        "jobs/backup.yaml",
        "jobs/deep/er/review.yml",
        "oven.yaml",
    ]


def test_validate_worktree_of_a_real_git_checkout(tmp_path: Path) -> None:
    _write(tmp_path, {"oven.yaml": OVEN, "jobs/backup.yaml": DOCKER_JOB, "jobs/bad.yaml": "id: [x"})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    state = validate_worktree(tmp_path)
    assert list(state.jobs) == ["backup-db"]
    assert [p.path for p in state.problems] == ["jobs/bad.yaml"]


def test_symlinked_manifests_are_never_followed_and_each_is_a_problem(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(DOCKER_JOB)
    repo = tmp_path / "repo"
    _write(repo, {"jobs/real.yaml": DOCKER_JOB})
    (repo / "jobs" / "link.yaml").symlink_to("../../outside.yaml")
    (repo / "jobs" / "inside.yaml").symlink_to("real.yaml")
    (repo / "oven.yaml").symlink_to("../outside.yaml")
    files = read_worktree(repo)
    assert (
        isinstance(files["jobs/inside.yaml"], Symlink) and files["jobs/inside.yaml"] == b"real.yaml"
    )
    state = validate_worktree(repo)
    assert list(state.jobs) == ["backup-db"], "the regular file next to the links still loads"
    assert [str(p) for p in state.problems] == [
        "jobs/inside.yaml:1: (file): is a symlink (to 'real.yaml'); manifests must be regular "
        "files: copy the file, or share values through oven.yaml defaults",
        "jobs/link.yaml:1: (file): is a symlink (to '../../outside.yaml'); manifests must be "
        "regular files: copy the file, or share values through oven.yaml defaults",
        "oven.yaml:1: (file): is a symlink (to '../outside.yaml'); manifests must be regular "
        "files: copy the file, or share values through oven.yaml defaults",
    ]


def test_a_jobs_folder_that_is_a_symlink_is_not_entered(tmp_path: Path) -> None:
    _write(tmp_path / "elsewhere", {"jobs/backup.yaml": DOCKER_JOB})
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "jobs").symlink_to(tmp_path / "elsewhere" / "jobs")
    assert read_worktree(repo) == {}


def test_huge_file_is_read_only_past_the_limit_and_reported(tmp_path: Path) -> None:
    _write(tmp_path, {"jobs/huge.yaml": b"# " + b"x" * (4 * MAX_BYTES)})
    assert len(read_worktree(tmp_path)["jobs/huge.yaml"]) == MAX_BYTES + 1
    assert [str(p) for p in validate_worktree(tmp_path).problems] == [
        "jobs/huge.yaml:1: (file): file is larger than the 256 KiB limit"
    ]


def test_missing_directory_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is not a directory"):
        read_worktree(tmp_path / "nope")


def test_repo_without_jobs_dir_is_empty(tmp_path: Path) -> None:
    state = validate_worktree(tmp_path)
    assert state.jobs == {} and state.problems == ()


@pytest.mark.skipif(
    not any(EXAMPLE.glob("jobs/**/*.y*ml")), reason="config-example/ has no jobs yet"
)
def test_config_example_is_valid() -> None:
    state = validate_worktree(EXAMPLE, volume_allowlist=None)
    assert [str(p) for p in state.problems] == []
    assert state.jobs, "config-example/ defines jobs"
    assert {job.type for job in state.jobs.values()} == {"docker", "agent-pipeline"}
