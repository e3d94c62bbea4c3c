"""``oven doctor``: is this host ready to run the daemon? One ✓/✗ line per check, with a hint.

It takes ``oven run``'s options (and their ``OVEN_*`` variables), so the same flags that start
the daemon can be checked first. Each check goes through the code the daemon itself uses (the
git mirror, the secret store, the Docker executor, the auth pre-flight, the listen socket), and
changes nothing: the config repo is fetched into a temporary directory, the status branch gets
a push that updates no ref, nothing is pulled or started. A check that needs a failed one (the
images need the engine, the secrets need the jobs) is shown as ``-`` (skipped), so a broken
piece turns exactly its own line ✗. Exit 0 when every line is ✓, else 1.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reconciler.cli import readmodel, run
from reconciler.cli.context import Context
from reconciler.cli.options import Env
from reconciler.errors import OvenError

if TYPE_CHECKING:
    import docker

    from reconciler.executors.docker import DockerExecutor
    from reconciler.model import DesiredState
    from reconciler.secrets import SecretStore
    from reconciler.settings import Settings

State = Literal["ok", "fail", "skip"]
MARKS = {"ok": "[green]✓[/]", "fail": "[bold red]✗[/]", "skip": "[dim]-[/]"}
CLOCK_SKEW_S = 30.0  # most seconds between this host's clock and the engine's
EARLIEST = datetime(2025, 1, 1, tzinfo=UTC)  # a clock before this was never set
ENGINE_TIMEOUT = 10  # seconds for one request to the engine


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    detail: str
    hint: str = ""


def arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    run.arguments(parser, env)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the checks as JSON ({checks: [{name, state, detail, hint}], ok}) "
        "(default: off)",
    )


def execute(args: argparse.Namespace, ctx: Context) -> int:
    settings = run.settings_from(args, "doctor")
    checks = Doctor(settings, ctx).run()
    ok = all(check.state == "ok" for check in checks)
    if args.json:
        ctx.json({"checks": [asdict(check) for check in checks], "ok": ok})
    else:
        _print(ctx, checks)
    return 0 if ok else 1


def _print(ctx: Context, checks: list[Check]) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    for column in ("", "CHECK", "RESULT", "HINT"):
        table.add_column(column, no_wrap=column in ("", "CHECK"), overflow="fold")
    for check in checks:
        table.add_row(MARKS[check.state], check.name, escape(check.detail), escape(check.hint))
    failed = sum(check.state == "fail" for check in checks)
    readmodel.show(ctx, table, "all checks passed" if not failed else f"{failed} check(s) failed")


class Doctor:
    """Runs the checks in order; later ones use what earlier ones found (engine, jobs)."""

    def __init__(self, settings: Settings, ctx: Context) -> None:
        self.settings = settings
        self.ctx = ctx
        self.now = ctx.clock.now()
        self.client: docker.DockerClient | None = None
        self.executor: DockerExecutor | None = None
        self.desired: DesiredState | None = None
        self.secrets: SecretStore | None = None

    def run(self) -> list[Check]:
        steps: list[Callable[[], Iterable[Check]]] = [
            self.engine,
            self.config_repo,
            self.status_branch,
            self.secret_values,
            self.volumes,
            self.images,
            self.agents,
            self.clock,
            self.listen,
        ]
        checks: list[Check] = []
        try:
            for step in steps:
                checks.extend(step())
        finally:
            if self.client is not None:
                self.client.close()
        return checks

    # -- the engine ----------------------------------------------------------------------------
    def engine(self) -> Iterable[Check]:
        import docker
        from docker.errors import DockerException

        from reconciler.executors.docker import DockerExecutor

        where = self.ctx.env.get("DOCKER_HOST") or "the default socket"
        try:
            self.client = docker.from_env(environment=dict(self.ctx.env), timeout=ENGINE_TIMEOUT)
            executor = DockerExecutor(self.client, state_dir=self.settings.state_dir)
            version = executor.engine_version()
        except (DockerException, OvenError) as exc:
            if self.client is not None:
                self.client.close()
                self.client = None
            yield Check(
                "engine",
                "fail",
                f"no Docker engine answers at {where}: {_message(exc)}",
                "start Docker (`systemctl start docker`), or set DOCKER_HOST to the engine's "
                "socket; `docker info` must work as the user the daemon runs as",
            )
            return
        self.executor = executor
        yield Check("engine", "ok", f"Docker {version} at {where}")

    # -- git ---------------------------------------------------------------------------------
    def config_repo(self) -> Iterable[Check]:
        from reconciler.loop import repo_credentials
        from reconciler.manifests import load_tree
        from reconciler.source.git import GitSource
        from reconciler.source.local import LocalSource

        s = self.settings
        try:
            with tempfile.TemporaryDirectory(prefix="oven-doctor-") as tmp:
                source: GitSource | LocalSource
                if s.watch:
                    source = LocalSource(Path(s.repo))
                else:
                    source = GitSource(s.repo, s.branch, Path(tmp), repo_credentials(s))
                revision = source.fetch()
                files = source.files(revision)
                self.desired = load_tree(files, revision, s.volume_allowlist or None)
        except OvenError as exc:
            yield Check(
                "config repo",
                "fail",
                f"cannot fetch {s.repo}: {exc.message}",
                exc.hint or "check --repo, --branch and the repo's credentials",
            )
            return
        problems = len(self.desired.problems)
        detail = f"branch {s.branch} at {revision[:12]}: {len(self.desired.jobs)} job(s)"
        if problems:
            yield Check(
                "config repo",
                "fail",
                f"{detail}, {problems} manifest problem(s)",
                f"`oven validate` on a checkout of {s.branch} lists them",
            )
            return
        yield Check("config repo", "ok", detail)

    def status_branch(self) -> Iterable[Check]:
        from reconciler.gitrepo import GitMirror
        from reconciler.loop import repo_credentials

        s = self.settings
        if self.desired is None:
            yield Check("status branch", "skip", "not checked: the config repo cannot be read")
            return
        remote = str(Path(s.repo).resolve()) if s.watch else s.repo
        try:
            with tempfile.TemporaryDirectory(prefix="oven-doctor-") as tmp:
                mirror = GitMirror(
                    remote, Path(tmp) / "mirror.git", credentials=repo_credentials(s)
                )
                mirror.check_push()
        except OvenError as exc:
            yield Check(
                "status branch",
                "fail",
                f"cannot push {s.status_branch}: {exc.message}",
                exc.hint or "the daemon's credentials need write access to the repo",
            )
            return
        yield Check("status branch", "ok", f"{s.status_branch} may be pushed (nothing was pushed)")

    # -- secrets and host paths ----------------------------------------------------------------
    def secret_values(self) -> Iterable[Check]:
        from reconciler.secrets import SecretStore

        s = self.settings
        try:
            self.secrets = SecretStore.load(s.secrets_file, self.ctx.env)
        except (OSError, OvenError) as exc:
            yield Check(
                "secrets",
                "fail",
                f"cannot read --secrets-file {s.secrets_file}: {_message(exc)}",
                "NAME=value lines, readable by the daemon's user",
            )
            return
        wanted: dict[str, list[str]] = {}
        for name, user in (
            (s.repo_token_secret, "--repo-token-secret"),
            (s.repo_ssh_key_secret, "--repo-ssh-key-secret"),
            (s.webhook_secret, "--webhook-secret"),
        ):
            if name:
                wanted.setdefault(name, []).append(user)
        if self.desired is None:
            jobs_note = " (the jobs' secrets not checked: the config repo cannot be read)"
        else:
            jobs_note = ""
            for job in (job for job in self.desired.jobs.values() if job.enabled):
                source_secret = (job.source.secret,) if job.source and job.source.secret else ()
                for name in (*job.secrets, *source_secret):
                    wanted.setdefault(name, []).append(job.id)
        missing = [name for name in sorted(wanted) if not self._has(name)]
        if missing:
            who = "; ".join(f"{name} (for {', '.join(wanted[name])})" for name in missing)
            yield Check(
                "secrets",
                "fail",
                f"missing: {who}",
                "add NAME=value to --secrets-file or the daemon's environment; values "
                "never go in the config repo",
            )
            return
        state: State = "skip" if self.desired is None else "ok"
        yield Check("secrets", state, f"{len(wanted)} named, all present{jobs_note}")

    def _has(self, name: str) -> bool:
        try:
            return bool(self.secrets and self.secrets.resolve([name]))
        except OvenError:
            return False

    def volumes(self) -> Iterable[Check]:
        roots = self.settings.volume_allowlist
        if not roots:
            yield Check("volumes", "ok", "no --allow-volume: jobs may bind-mount no host path")
            return
        absent = [root for root in roots if not Path(root).is_dir()]
        if absent:
            yield Check(
                "volumes",
                "fail",
                "not a directory: " + ", ".join(absent),
                "create them or drop them from --allow-volume / OVEN_ALLOW_VOLUMES",
            )
            return
        yield Check("volumes", "ok", f"{len(roots)} allow-list path(s) exist")

    # -- images and agents ---------------------------------------------------------------------
    def images(self) -> Iterable[Check]:
        if self.executor is None or self.desired is None:
            yield Check("images", "skip", "not checked: " + self._missing_input())
            return
        images = sorted(
            {
                job.image
                for job in self.desired.jobs.values()
                if job.enabled and job.type == "docker" and job.image
            }
        )
        absent = [image for image in images if not self._image_present(image)]
        if absent:
            yield Check(
                "images",
                "fail",
                "not on this engine: " + ", ".join(absent),
                "`make images` builds agent-oven/*; `docker pull IMAGE` fetches others",
            )
            return
        yield Check("images", "ok", f"{len(images)} image(s) of enabled docker jobs present")

    def _image_present(self, image: str) -> bool:
        return self._labels(image) is not None

    def _labels(self, image: str) -> dict[str, str] | None:
        assert self.executor is not None
        try:
            return self.executor.image_labels(image)
        except OvenError:
            return None

    def agents(self) -> Iterable[Check]:
        from reconciler.pipelines.auth import DEFAULT_AUTH, IMAGE_LABEL, preflight
        from reconciler.workspaces import GitWorkspaces

        if self.desired is None:
            yield Check("runner image", "skip", "not checked: " + self._missing_input())
            return
        modes = sorted(
            {
                job.auth or DEFAULT_AUTH
                for job in self.desired.jobs.values()
                if job.enabled and job.type == "agent-pipeline"
            }
        )
        if not modes:
            yield Check("runner image", "ok", "not needed: no enabled agent-pipeline job")
            return
        image = self.settings.runner_image
        labels = self._labels(image) if self.executor is not None else None
        if self.executor is None:
            yield Check("runner image", "skip", "not checked: no Docker engine answers")
        elif labels is None:
            yield Check(
                "runner image",
                "fail",
                f"{image} is not on this engine",
                "`make images` builds it (docs/agent-pipelines.md)",
            )
        else:
            yield Check("runner image", "ok", f"{image} ({labels.get(IMAGE_LABEL, 'no label')})")
        s = self.settings
        login = GitWorkspaces(
            s.state_dir / "checkouts",
            claude_dir=s.host_claude_dir,
            claude_json=s.host_claude_json,
            gh_dir=s.host_gh_dir,
        ).host_login()
        values = self._secret_map()
        for mode in modes:
            problem = preflight(mode, values, None, login, self.now)
            if problem is None:
                yield Check(f"auth {mode}", "ok", "credentials present")
            else:
                yield Check(f"auth {mode}", "fail", problem.message, problem.hint)

    def _secret_map(self) -> dict[str, str]:
        from reconciler.pipelines.auth import CLAUDE_SECRET

        return {name: "set" for name in CLAUDE_SECRET.values() if self._has(name)}

    def _missing_input(self) -> str:
        if self.executor is None:
            return "no Docker engine answers"
        return "the config repo cannot be read"

    # -- the host ------------------------------------------------------------------------------
    def clock(self) -> Iterable[Check]:
        now = self.now
        if now < EARLIEST:
            yield Check(
                "clock",
                "fail",
                f"this host's clock says {now:%Y-%m-%d %H:%M} UTC",
                "set the time (`timedatectl set-ntp true`)",
            )
            return
        engine_time = self._engine_time()
        if engine_time is None:
            yield Check("clock", "ok", f"{now:%Y-%m-%d %H:%M:%S} UTC (no engine to compare with)")
            return
        skew = (now - engine_time).total_seconds()
        if abs(skew) > CLOCK_SKEW_S:
            yield Check(
                "clock",
                "fail",
                f"{skew:+.0f}s from the Docker engine's clock",
                "run NTP on both hosts (`timedatectl set-ntp true`); schedules fire by "
                "this host's clock",
            )
            return
        yield Check("clock", "ok", f"{now:%Y-%m-%d %H:%M:%S} UTC, {skew:+.1f}s from the engine")

    def _engine_time(self) -> datetime | None:
        from reconciler.clock import utc

        if self.client is None:
            return None
        try:
            text = str(self.client.info().get("SystemTime", ""))
            return utc(re.sub(r"(\.\d{6})\d+", r"\1", text))  # nanoseconds: Python reads µs
        except Exception:  # an engine gone since, or a time we cannot read: nothing to compare
            return None

    def listen(self) -> Iterable[Check]:
        from reconciler.web.server import bind_socket

        address = self.settings.listen
        try:
            host, port = self.settings.host_port
            bind_socket(host, port).close()
        except OvenError as exc:
            yield Check(
                "listen",
                "fail",
                f"{address}: {exc.message}",
                (exc.hint or "") + " (an `oven run` already listening there takes it too)",
            )
            return
        yield Check("listen", "ok", f"{address} is free")


def _message(exc: BaseException) -> Any:
    return exc.message if isinstance(exc, OvenError) else str(exc).splitlines()[0][:300]
