"""Real git for tests: bare repos made with the `git` CLI, served by `git daemon` and HTTP.

Loaded by tests/source/conftest.py and tests/ledger/conftest.py (by file path, since tests
run with --import-mode=importlib). Every git call runs with an isolated config so the
developer's ~/.gitconfig cannot change the outcome.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Person",
    "GIT_AUTHOR_EMAIL": "person@example.test",
    "GIT_COMMITTER_NAME": "Test Person",
    "GIT_COMMITTER_EMAIL": "person@example.test",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(*args: str, cwd: Path | None = None) -> str:
    """Run the real git client; return stdout; fail the test with stderr on error."""
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def make_bare(path: Path) -> Path:
    git("init", "--bare", "--initial-branch=main", str(path))
    return path


def push_files(
    bare: Path,
    branch: str,
    files: Mapping[str, str | None],
    message: str = "change",
    work: Path | None = None,
) -> str:
    """Clone the bare repo, write files (None deletes) on branch, commit, push; return sha."""
    work = work or bare.parent / f"work-{time.monotonic_ns()}"
    git("clone", "--quiet", str(bare), str(work))
    exists = git("ls-remote", "--heads", "origin", branch, cwd=work)
    if exists:
        git("checkout", "--quiet", branch, cwd=work)
    else:
        git("checkout", "--quiet", "--orphan", branch, cwd=work)
        git("rm", "-r", "--quiet", "--cached", "--ignore-unmatch", ".", cwd=work)
    for name, content in files.items():
        target = work / name
        if content is None:
            git("rm", "--quiet", name, cwd=work)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        git("add", name, cwd=work)
    git("commit", "--quiet", "--allow-empty", "-m", message, cwd=work)
    git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GitDaemon:
    """`git daemon` serving every repo under base (read and push) on a loopback port."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def start(self) -> GitDaemon:
        self.process = subprocess.Popen(
            [
                "git", "daemon", "--reuseaddr", f"--base-path={self.base}", "--export-all",
                "--enable=receive-pack", "--informative-errors", f"--port={self.port}",
                "--listen=127.0.0.1", str(self.base),
            ],
            env={**os.environ, **GIT_ENV},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("git daemon did not start listening")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class GitHttpServer:
    """The real `git http-backend` (smart HTTP, fetch and push) behind a threaded WSGI server."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.server: Any = None
        self.thread: threading.Thread | None = None

    def url(self, name: str, auth: str = "") -> str:
        assert self.server is not None
        return f"http://{auth}127.0.0.1:{self.server.server_port}/{name}"

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        cgi_env = {
            **os.environ, **GIT_ENV,
            "GIT_PROJECT_ROOT": str(self.base), "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": "tester", "REMOTE_ADDR": "127.0.0.1",
            **{key: str(value) for key, value in environ.items()
               if key.startswith("HTTP_") or key in CGI_KEYS},
        }
        done = subprocess.run(["git", "http-backend"], input=body, env=cgi_env,
                              capture_output=True, timeout=60)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        headers = [tuple(line.split(": ", 1)) for line in head.decode().split("\r\n") if line]
        status = next((value for key, value in headers if key.lower() == "status"), "200 OK")
        start_response(status, [(k, v) for k, v in headers if k.lower() != "status"])
        return [payload]

    def start(self) -> GitHttpServer:
        class Quiet(WSGIRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

        class Threaded(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        self.server = make_server("127.0.0.1", 0, self.app, server_class=Threaded,
                                  handler_class=Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(timeout=10)


CGI_KEYS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH")
