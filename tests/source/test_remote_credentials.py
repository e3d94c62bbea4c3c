"""Credentials for the config repo, against real servers on loopback: `git http-backend` behind
an HTTP server that checks a basic-auth token, and `sshd` with a test key. Each fetches a
pushed change; a missing or wrong credential is a clean error that never shows the token."""

from __future__ import annotations

import base64
import gc
import shutil
import socket
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scenarios.harness import Daemon, wait_until
from support import engine, gitutil

from reconciler.errors import OvenError
from reconciler.gitrepo import Credentials
from reconciler.source.git import GitSource

TOKEN = "tok-0123456789abcdef-secret"
JOB = (
    "id: {id}\nname: J\ntype: docker\nimage: busybox\ncommand: [echo]\nschedule: {{type: manual}}\n"
)


class TokenHttp(gitutil.GitHttpServer):
    """git http-backend that answers 401 unless the request carries our token."""

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        expected = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"no\n"]
        return super().app(environ, start_response)


@pytest.fixture
def token_http(repo_base: Path) -> Iterator[TokenHttp]:
    server = TokenHttp(repo_base).start()
    yield server
    server.stop()


def push_job(bare: Path, job_id: str) -> str:
    return gitutil.push_files(bare, "main", {f"jobs/{job_id}.yaml": JOB.format(id=job_id)})


def test_http_with_a_token_fetches_a_pushed_change(
    token_http: TokenHttp, repo_base: Path, tmp_path: Path
) -> None:
    bare = gitutil.make_bare(repo_base / "token.git")
    push_job(bare, "first")
    url = token_http.url("token.git")
    source = GitSource(url, "main", tmp_path / "s", Credentials(token=TOKEN))
    source.fetch()
    head = push_job(bare, "second")
    assert source.fetch() == head
    assert "jobs/second.yaml" in source.mirror.read_files(head, ["jobs/"])

    for credentials in (None, Credentials(token="wrong-token-value")):
        other = GitSource(url, "main", tmp_path / f"x{id(credentials)}", credentials)
        try:
            other.fetch()
        except OvenError as exc:
            said = f"{exc.message} {exc.hint}"
        else:
            raise AssertionError("fetched without the right token")
        assert "access denied" in said and TOKEN not in said, said


SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, str, str]]:
    if not Path(SSHD).exists():
        pytest.skip("sshd is not installed (apt-get install openssh-server)")
    home = tmp_path / "sshd"
    home.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / "host")], check=True
    )
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / "client")], check=True
    )
    (home / "authorized_keys").write_text((home / "client.pub").read_text())
    (home / "authorized_keys").chmod(0o600)
    port = gitutil.free_port()
    config = home / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {home / 'host'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin yes\n"
        f"PidFile {home / 'sshd.pid'}\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    log = home / "sshd.log"
    with log.open("wb") as out:
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=out)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.skip(f"sshd cannot run here: {log.read_text()[-300:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    host_key = (home / "host.pub").read_text().split()[1]
    yield port, (home / "client").read_text(), host_key
    process.terminate()
    process.wait(timeout=10)


def test_ssh_with_a_key_fetches_a_pushed_change(sshd: tuple[int, str, str], tmp_path: Path) -> None:
    port, key, host_key = sshd
    bare = gitutil.make_bare(tmp_path / "ssh.git")
    push_job(bare, "first")
    url = f"ssh://root@127.0.0.1:{port}{bare}"
    state = tmp_path / "state"
    source = GitSource(url, "main", state, Credentials(ssh_key=key, state_dir=state))
    source.fetch()
    head = push_job(bare, "second")
    assert source.fetch() == head
    assert "jobs/second.yaml" in source.mirror.read_files(head, ["jobs/"])
    assert (state / "ssh" / "id_repo").stat().st_mode & 0o077 == 0, "the key file is private"
    assert host_key in (state / "ssh" / "known_hosts").read_text(), "the host key is kept"

    keyless = GitSource(url, "main", tmp_path / "k", Credentials(state_dir=tmp_path / "k"))
    with warnings.catch_warnings():  # dulwich leaves a refused SSH protocol to the collector
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            keyless.fetch()
        except OvenError as exc:
            said = exc.message
        else:
            raise AssertionError("fetched over SSH without a key")
        gc.collect()
    assert "cannot fetch" in said, said


# -- a real `oven run` over each remote: a pushed change is applied --------------------------
@pytest.fixture
def oven_run(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    client = engine.connect()
    started: list[Daemon] = []
    instance = f"remote-{uuid.uuid4().hex[:8]}"

    def start(url: str, env: dict[str, str], *extra: str) -> Daemon:
        daemon = Daemon(
            url, tmp_path / f"state-{len(started)}", instance, "--lease-seconds", "0", *extra
        )
        started.append(daemon.start(env=env))
        return daemon

    yield start
    for daemon in started:
        daemon.stop()
    engine.remove_containers(client, instance_prefix=instance)
    client.close()



def applies_pushed_change(daemon: Daemon, bare: Path, first: str) -> None:
    wait_until(lambda: daemon.applied_revision() == first, 60, "the first revision applied")
    second = push_job(bare, "second")
    wait_until(lambda: daemon.applied_revision() == second, 30, "the pushed change applied")
    assert TOKEN not in daemon.output()


@pytest.mark.docker
def test_oven_run_applies_a_change_over_git_daemon(git_daemon, repo_base, oven_run) -> None:
    bare = gitutil.make_bare(repo_base / f"d-{uuid.uuid4().hex[:6]}.git")
    first = push_job(bare, "first")
    applies_pushed_change(oven_run(git_daemon.url(bare.name), {}), bare, first)


@pytest.mark.docker
def test_oven_run_applies_a_change_over_http_with_a_token(token_http, repo_base, oven_run) -> None:
    bare = gitutil.make_bare(repo_base / f"h-{uuid.uuid4().hex[:6]}.git")
    first = push_job(bare, "first")
    daemon = oven_run(
        token_http.url(bare.name),
        {"OVEN_TEST_TOKEN": TOKEN},
        "--repo-token-secret",
        "OVEN_TEST_TOKEN",
    )
    applies_pushed_change(daemon, bare, first)


@pytest.mark.docker
def test_oven_run_applies_a_change_over_ssh_with_a_key(sshd, tmp_path, oven_run) -> None:
    port, key, _ = sshd
    bare = gitutil.make_bare(tmp_path / "ssh-run.git")
    first = push_job(bare, "first")
    daemon = oven_run(
        f"ssh://root@127.0.0.1:{port}{bare}",
        {"OVEN_TEST_KEY": key},
        "--repo-ssh-key-secret",
        "OVEN_TEST_KEY",
    )
    applies_pushed_change(daemon, bare, first)
