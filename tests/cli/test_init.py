"""`oven init` and `oven schema`: the scaffold validates, editors find its schemas offline.

The schema wiring is checked the way an editor or CI would use it: each YAML file's
`# yaml-language-server: $schema=` path resolves to a file `oven init` wrote, and
check-jsonschema with that file accepts the scaffold and rejects a broken job.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.cli import Context, main

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_LINE = re.compile(r"\A# yaml-language-server: \$schema=(\S+)\n")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Context(stdout=out, stderr=err, env={}))
    return code, out.getvalue(), err.getvalue()


def test_init_writes_a_repo_that_validates_and_says_what_it_wrote(tmp_path: Path) -> None:
    target = tmp_path / "jobs-repo"
    code, out, err = run("init", str(target))
    assert code == 0 and err == ""
    written = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert written == [
        ".github/workflows/oven.yml",
        "jobs/hello.yaml",
        "oven.yaml",
        "schema/job.schema.json",
        "schema/oven.schema.json",
    ]
    for name in written:
        assert f"wrote {target / name}\n" in out
    code, out, _ = run("validate", str(target))
    assert code == 0 and out.startswith("1 jobs valid, 0 problems"), out
    code, out, _ = run("next", "hello", "--repo", str(target), "-n", "1", "--now", "2026-12-05")
    assert code == 0 and "2026-12-07 09:00" in out, out  # the Monday after a Saturday


def test_init_refuses_a_directory_that_is_not_empty_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    code, out, err = run("init", str(tmp_path))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {tmp_path} is not empty") and "--force" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    code, _, _ = run("init", str(tmp_path), "--force")
    assert code == 0
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    assert (tmp_path / "jobs" / "hello.yaml").is_file()


def test_init_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    code, _, err = run("init", str(tmp_path / "f"))
    assert code == 2 and "is not a directory" in err


def test_each_yaml_names_a_schema_that_init_wrote(tmp_path: Path) -> None:
    assert run("init", str(tmp_path))[0] == 0
    for name, schema in [("oven.yaml", "oven"), ("jobs/hello.yaml", "job")]:
        path = tmp_path / name
        found = SCHEMA_LINE.match(path.read_text())
        assert found, f"{name} does not start with a schema line"
        target = (path.parent / found.group(1)).resolve()
        assert target == (tmp_path / "schema" / f"{schema}.schema.json").resolve()
        schema_doc = json.loads(target.read_text())
        errors = list(
            Draft202012Validator(schema_doc).iter_errors(yaml.safe_load(path.read_text()))
        )
        assert errors == []


def test_oven_schema_stands_alone() -> None:
    for kind in ("job", "oven"):
        code, out, _ = run("schema", kind)
        assert code == 0
        assert "urn:agent-oven" not in out.replace('"$id": "urn:agent-oven:schema:' + kind, "")
        Draft202012Validator.check_schema(json.loads(out))
    oven = json.loads(run("schema", "oven")[1])
    bad = {"defaults": {"policy": {"missed": "sometimes"}}}
    assert list(Draft202012Validator(oven).iter_errors(bad))  # the job's $defs are in it
    assert not list(
        Draft202012Validator(oven).iter_errors({"defaults": {"policy": {"missed": "all"}}})
    )


def test_oven_schema_output_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "job.schema.json"
    code, out, _ = run("schema", "--output", str(target))
    assert code == 0 and out == f"wrote {target}\n"
    assert target.read_text() == run("schema", "job")[1]


def check_jsonschema() -> str:
    beside = Path(sys.executable).parent / "check-jsonschema"
    found = str(beside) if beside.exists() else shutil.which("check-jsonschema")
    if found is None:
        pytest.skip("check-jsonschema (dev extra) is not installed")
    return found


def test_check_jsonschema_with_the_written_schema_catches_a_broken_job(tmp_path: Path) -> None:
    assert run("init", str(tmp_path))[0] == 0
    tool = check_jsonschema()
    schema = str(tmp_path / "schema" / "job.schema.json")
    good = subprocess.run(
        [tool, "--schemafile", schema, str(tmp_path / "jobs" / "hello.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    broken = tmp_path / "jobs" / "broken.yaml"
    broken.write_text(
        (tmp_path / "jobs" / "hello.yaml").read_text().replace("type: docker", "type: podman")
    )
    bad = subprocess.run(
        [tool, "--schemafile", schema, str(broken)], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 1 and "podman" in bad.stdout + bad.stderr


def test_the_pre_commit_hook_runs_oven_validate_on_the_whole_repo() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "oven-validate" and hook["language"] == "python"
    assert hook["pass_filenames"] is False
    assert hook["entry"].split() == ["oven", "validate", "."]
    assert re.search(hook["files"], "jobs/team/backup.yaml")
    assert re.search(hook["files"], "oven.yaml")
    assert not re.search(hook["files"], "README.md")
