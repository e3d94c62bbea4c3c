"""``oven doctor`` against real pieces: a real git remote, the real Docker engine, real secrets,
directories and sockets. A healthy set-up is all ✓; each broken piece turns exactly its own
line ✗ (lines that need it are skipped, ``-``), with a hint, and the exit code is 1.
"""

from __future__ import annotations

import gc
import io
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.gitutil import GitHttpServer, make_bare, push_files

from reconciler.cli import Context, main
from reconciler.clock import SystemClock

pytestmark = pytest.mark.docker

IMAGE = "agent-oven/busybox:latest"
RUNNER = "agent-oven/pipeline-runner:latest"
SECRET = "a-long-enough-secret-value"
HELLO = f"""\
id: hello
name: Hello
type: docker
image: {IMAGE}
secrets: [HELLO_TOKEN]
schedule: {{type: cron, cron: "0 9-17 * * 1-5"}}
"""
REVIEW = """\
id: review
name: Review
type: agent-pipeline
source: {repo: "https://example.invalid/app.git", branch: main}
pipeline: post-commit-example
auth: api-key
schedule: {type: manual}
"""


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Any]:
    bare = make_bare(tmp_path / "config.git")
    push_files(bare, "main", {"jobs/hello.yaml": HELLO})
    allowed = tmp_path / "data"
    allowed.mkdir()
    return {
        "argv": ["--repo", str(bare), "--state-dir", str(tmp_path / "state"),
                 "--listen", "127.0.0.1:0", "--allow-volume", str(allowed)],
        "env": {"HELLO_TOKEN": SECRET},
        "bare": bare,
    }  # fmt: skip


def doctor(argv: list[str], env: dict[str, str], *extra: str) -> tuple[int, dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(clock=SystemClock(), stdout=out, stderr=err, env=env)
    code = main(["doctor", *argv, *extra, "--json"], ctx)
    assert err.getvalue() == ""
    return code, {c["name"]: c for c in json.loads(out.getvalue())["checks"]}


def states(checks: dict[str, Any]) -> dict[str, str]:
    return {name: check["state"] for name, check in checks.items()}


def failed(checks: dict[str, Any]) -> set[str]:
    return {name for name, check in checks.items() if check["state"] == "fail"}


def test_a_healthy_setup_is_all_ok_and_exits_0(setup: dict[str, Any]) -> None:
    code, checks = doctor(setup["argv"], setup["env"])
    assert set(states(checks).values()) == {"ok"}, checks
    assert code == 0
    assert list(checks) == ["engine", "config repo", "status branch", "secrets", "volumes",
                            "images", "runner image", "clock", "listen"]  # fmt: skip
    assert checks["engine"]["detail"].startswith("Docker ")
    assert "1 job(s)" in checks["config repo"]["detail"]


# docker-py leaks the socket of a failed unix connect (docker/docker-py#3356); as in
# tests/executors/test_docker_engine.py, that ResourceWarning is the SDK's, provoked on purpose.
DEAD_ENGINE = (
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
)


def dead_engine(test):  # type: ignore[no-untyped-def]
    for mark in DEAD_ENGINE:
        test = mark(test)
    return test


@dead_engine
def test_the_table_marks_each_line_and_gives_the_hint(setup: dict[str, Any]) -> None:
    out = io.StringIO()
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    code = main(["doctor", *setup["argv"]], Context(stdout=out, stderr=io.StringIO(), env=env))
    lines = out.getvalue().splitlines()
    assert code == 1
    engine = next(line for line in lines if " engine " in line)
    assert engine.startswith("✗") and "start Docker" in engine
    assert next(line for line in lines if " listen " in line).startswith("✓")
    assert next(line for line in lines if " images " in line).startswith("-")
    assert lines[-1] == "2 check(s) failed"  # the engine, and HELLO_TOKEN: not in this env
    assert all(line == line.rstrip() for line in lines)
    gc.collect()  # let the SDK's leaked socket be reported while the filters apply


@dead_engine
def test_an_unreachable_engine_turns_only_the_engine_line(setup: dict[str, Any]) -> None:
    env = {**setup["env"], "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    code, checks = doctor(setup["argv"], env)
    assert code == 1
    assert failed(checks) == {"engine"}
    assert checks["engine"]["hint"] and "/nonexistent/docker.sock" in checks["engine"]["detail"]
    assert checks["images"]["state"] == "skip"
    assert checks["clock"]["state"] == "ok" and "no engine" in checks["clock"]["detail"]
    gc.collect()


def test_a_missing_secret_turns_only_the_secrets_line(setup: dict[str, Any]) -> None:
    code, checks = doctor(setup["argv"], {})
    assert code == 1
    assert failed(checks) == {"secrets"}
    assert checks["secrets"]["detail"] == "missing: HELLO_TOKEN (for hello)"
    assert "--secrets-file" in checks["secrets"]["hint"]


def test_a_secrets_file_counts(setup: dict[str, Any], tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"HELLO_TOKEN={SECRET}\n")
    code, checks = doctor(setup["argv"], {}, "--secrets-file", str(secrets))
    assert (code, failed(checks)) == (0, set())


def test_an_unreachable_remote_turns_only_the_config_repo_line(setup: dict[str, Any]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens once the socket is closed
    argv = [*setup["argv"], "--repo", f"http://127.0.0.1:{port}/config.git"]
    code, checks = doctor(argv, setup["env"])
    assert code == 1
    assert failed(checks) == {"config repo"}
    assert checks["config repo"]["hint"]
    assert states(checks)["status branch"] == "skip" and states(checks)["images"] == "skip"
    assert states(checks)["secrets"] == "skip"  # the jobs' secrets are unknown


def test_a_missing_allow_list_path_turns_only_the_volumes_line(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    code, checks = doctor(setup["argv"], setup["env"], "--allow-volume", str(tmp_path / "gone"))
    assert (code, failed(checks)) == (1, {"volumes"})
    assert str(tmp_path / "gone") in checks["volumes"]["detail"]


def test_a_missing_image_turns_only_the_images_line(setup: dict[str, Any]) -> None:
    push_files(setup["bare"], "main", {"jobs/hello.yaml": HELLO.replace(IMAGE, "oven-test/none:0")})
    code, checks = doctor(setup["argv"], setup["env"])
    assert (code, failed(checks)) == (1, {"images"})
    assert checks["images"]["detail"] == "not on this engine: oven-test/none:0"


def test_a_taken_port_turns_only_the_listen_line(setup: dict[str, Any]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, checks = doctor(setup["argv"], setup["env"], "--listen", f"127.0.0.1:{port}")
    assert (code, failed(checks)) == (1, {"listen"})
    assert checks["listen"]["hint"]


def test_an_agent_job_checks_the_runner_image_and_its_auth_mode(setup: dict[str, Any]) -> None:
    push_files(setup["bare"], "main", {"jobs/review.yaml": REVIEW})
    code, checks = doctor(setup["argv"], setup["env"], "--runner-image", RUNNER)
    assert (code, failed(checks)) == (1, {"auth api-key"})
    assert "ANTHROPIC_API_KEY" in checks["auth api-key"]["detail"]
    assert checks["runner image"]["state"] == "ok"
    env = {**setup["env"], "ANTHROPIC_API_KEY": SECRET}
    code, checks = doctor(setup["argv"], env, "--runner-image", "oven-test/no-runner:0")
    assert (code, failed(checks)) == (1, {"runner image"})
    assert checks["auth api-key"]["state"] == "ok"


def test_the_clock_is_compared_with_the_engine(setup: dict[str, Any]) -> None:
    from reconciler.clock import FakeClock

    out = io.StringIO()
    ctx = Context(clock=FakeClock(datetime(2030, 1, 1, tzinfo=UTC)), stdout=out,
                  stderr=io.StringIO(), env=setup["env"])  # fmt: skip
    code = main(["doctor", *setup["argv"], "--json"], ctx)
    checks = {c["name"]: c for c in json.loads(out.getvalue())["checks"]}
    assert (code, failed(checks)) == (1, {"clock"})
    assert "from the Docker engine's clock" in checks["clock"]["detail"]


class ReadOnlyHttp(GitHttpServer):
    """The real `git http-backend`, behind a front that refuses pushes (403 on receive-pack),
    as a forge does for a token without write access."""

    def app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if "git-receive-pack" in environ.get("PATH_INFO", "") + environ.get("QUERY_STRING", ""):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"Write access to repository not granted.\n"]
        return super().app(environ, start_response)


@pytest.mark.parametrize("server_class", [GitHttpServer, ReadOnlyHttp])
def test_the_status_branch_line_says_whether_the_remote_takes_a_push(
    setup: dict[str, Any], server_class: type[GitHttpServer]
) -> None:
    server = server_class(setup["bare"].parent).start()
    try:
        url = server.url(setup["bare"].name)
        code, checks = doctor(setup["argv"], setup["env"], "--repo", url)
    finally:
        server.stop()
    assert "oven-status" not in _branches(setup["bare"])  # the probe pushed nothing
    if server_class is GitHttpServer:
        assert (code, failed(checks)) == (0, set())
        return
    assert (code, failed(checks)) == (1, {"status branch"})
    assert checks["status branch"]["detail"].startswith("cannot push oven-status: ")
    assert "access denied" in checks["status branch"]["detail"]
    assert checks["status branch"]["hint"]


def _branches(bare: Path) -> str:
    import subprocess

    return subprocess.run(["git", "-C", str(bare), "branch", "--list"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
