"""The cycle's side of agent-pipeline runs: prepare, follow, conclude, clean up.

    prepare    pre-flight (credentials of the auth mode, the runner image's label), then a
               fresh checkout of the source branch -> the container request, or NotRunnable
    follow     each tick while the container runs: its new output -> live stages on the record
    conclude   when it ended: the whole output and the state file from the checkout -> stages
               with tokens, commits, the pull request, and an error a person can act on
    discard    after the result is committed (or the run never started): delete the checkout

Adapters are reached only through ``interfaces`` (``Executor``, ``Workspaces``); the reading
itself is the pure ``reconciler.pipelines``. Everything a pipeline wrote passes the run's
redactor before it reaches a record, so no secret value reaches the status branch or a page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from reconciler.errors import AuthError, ExecutorError, OvenError
from reconciler.interfaces import Executor, RunRequest, Workspaces
from reconciler.model import ErrorInfo, JobSpec, RunRecord
from reconciler.pipelines import (
    DEFAULT_AUTH,
    IMAGE_LABEL,
    PIPELINES_DIR,
    STATE_DIR,
    Finish,
    PipelineState,
    Progress,
    StateFileError,
    advance,
    auth_env,
    auth_secret_names,
    choose_state_file,
    concluded,
    host_login_volumes,
    parse_state,
    pipeline_names,
    preflight,
    redacted,
    with_progress,
)
from reconciler.pipelines.auth import GITHUB_SECRETS, login_secrets
from reconciler.pipelines.sources import classify_remote
from reconciler.run_request import NotRunnable, PipelineLaunch, build_request
from reconciler.secrets import MissingSecret, Redactor, SecretStore

log = logging.getLogger("oven")

DEFAULT_RUNNER_IMAGE = "agent-oven/pipeline-runner:latest"
Redact = Callable[[str], str]


class PipelineRuns:
    """Agent-pipeline runs of one reconciler: their checkouts and what their output says."""

    def __init__(
        self,
        executor: Executor,
        workspaces: Workspaces | None,
        secrets: SecretStore,
        runner_image: str = DEFAULT_RUNNER_IMAGE,
    ) -> None:
        self.executor, self.workspaces, self.secrets = executor, workspaces, secrets
        self.runner_image = runner_image
        self._progress: dict[str, Progress] = {}  # run id -> what its output said so far

    @staticmethod
    def secret_names(job: JobSpec) -> tuple[str, ...]:
        """Every secret name a run of ``job`` may see, for its record (redaction)."""
        if job.type != "agent-pipeline":
            return job.secrets
        names = list(job.secrets) + list(auth_secret_names(job.auth or DEFAULT_AUTH))
        if job.source and job.source.secret:
            names.append(job.source.secret)
        return tuple(dict.fromkeys(names))

    # -- before the start ------------------------------------------------------------------
    def prepare(self, job: JobSpec, record: RunRecord, now: datetime) -> RunRequest:
        """The run's container request after pre-flight and checkout; NotRunnable says why not."""
        if self.workspaces is None or job.source is None:
            raise NotRunnable(_NO_WORKSPACES)
        mode = job.auth or DEFAULT_AUTH
        available = self._available(self.secret_names(job))
        login = self.workspaces.host_login() if mode == "host-login" else None
        problem = preflight(mode, available, self._image_label(), login, now)
        if problem is None:
            problem = self._source_problem(job, available)
        if problem is not None:
            raise NotRunnable(problem)
        secrets = self.secrets.resolve(job.secrets)  # MissingSecret: the caller records it
        credential = available.get(job.source.secret) if job.source.secret else None
        try:
            workspace = self.workspaces.prepare(
                record.run_id, job.source.repo, job.source.branch, credential
            )
        except AuthError as exc:
            raise NotRunnable(_as_error("AuthError", exc)) from exc
        except OvenError as exc:
            raise NotRunnable(_as_error("SourceUnavailable", exc)) from exc
        try:
            copy = self.workspaces.copy_login(record.run_id) if login else None
        except OvenError as exc:
            self.discard(record.run_id)
            raise NotRunnable(_as_error("AuthError", exc)) from exc
        if credential and classify_remote(job.source.repo).kind == "https":
            # gh opens the pull request: without a GitHub token of its own, it gets the repo's
            available = {**dict.fromkeys(GITHUB_SECRETS, credential), **available}
        launch = PipelineLaunch(
            image=self.runner_image,
            workspace=workspace,
            auth_env=auth_env(mode, available),
            auth_volumes=host_login_volumes(copy) if copy else (),
        )
        return build_request(job, record, secrets, launch)

    def _available(self, names: Iterable[str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in names:
            try:
                values.update(self.secrets.resolve([name]))
            except MissingSecret:
                continue
        return values

    def _image_label(self) -> str | None:
        try:
            labels = self.executor.image_labels(self.runner_image)
        except ExecutorError as exc:
            if "not on this engine" not in exc.message:
                raise
            raise NotRunnable(
                ErrorInfo(
                    "NotInstalled",
                    f"the runner image {self.runner_image} is not on this Docker engine; "
                    "the run was not started",
                    "build it with `make images` (AGENT_PIPELINE_PACKAGE=agent-pipeline@<version>"
                    " adds Agent Pipeline; docs/agent-pipelines.md), or set --runner-image",
                )
            ) from exc
        return labels.get(IMAGE_LABEL)

    @staticmethod
    def _source_problem(job: JobSpec, available: dict[str, str]) -> ErrorInfo | None:
        source = job.source
        if source is None or not source.secret or available.get(source.secret):
            return None
        kind = "an ssh private key" if classify_remote(source.repo).kind == "ssh" else "a token"
        return ErrorInfo(
            "AuthError",
            f"source.secret names {source.secret}, which the reconciler does not have; "
            "the run was not started",
            f"add {source.secret}=<{kind} for {source.repo}> to the reconciler's --secrets-file "
            "or environment",
        )

    def redaction(self, redact: Redact) -> Redact:
        """``redact`` plus the host login's token values (a pipeline may print those too)."""
        if self.workspaces is None:
            return redact
        values = login_secrets(self.workspaces.host_login())
        if not values:
            return redact
        more = Redactor(values)
        return lambda text: more(redact(text))

    # -- while it runs ---------------------------------------------------------------------
    def follow(
        self, record: RunRecord, job: JobSpec | None, now: datetime, redact: Redact
    ) -> RunRecord:
        """The running record with the stages its new output reports (unchanged if none)."""
        progress = self._progress.get(record.run_id, Progress())
        try:
            fresh = self.executor.logs_since(record.run_id, progress.offset)
        except ExecutorError as exc:
            log.debug("run %s: cannot read new output: %s", record.run_id, exc)
            return record
        progress = advance(progress, fresh, now)
        self._progress[record.run_id] = progress
        updated = with_progress(record, progress, job.model if job else None)
        if updated is record:
            return record  # no stage changed
        return redacted(updated, self.redaction(redact))

    # -- after it ended --------------------------------------------------------------------
    def conclude(self, record: RunRecord, job: JobSpec | None, redact: Redact) -> RunRecord:
        """The final record: stages from the output and the state file, status and error."""
        known = self._progress.pop(record.run_id, None) or Progress()
        output = self._output(record.run_id)
        rest = output[known.offset :] + b"\n"  # the last line may lack its newline
        ended = record.finished_at or record.started_at or datetime.fromtimestamp(0, UTC)
        progress = advance(known, rest, ended)
        state, problem = self._state(record.run_id, progress.run_id)
        available = self._pipelines(record.run_id)
        finish = Finish(
            output=output.decode("utf-8", "replace"),
            progress=progress,
            state=state,
            state_problem=problem,
            available=available,
        )
        pipeline = job.pipeline if job and job.pipeline else progress.pipeline or ""
        final = concluded(record, finish, pipeline, job.model if job else None)
        return redacted(final, self.redaction(redact))

    def _output(self, run_id: str) -> bytes:
        try:
            return self.executor.logs(run_id)
        except ExecutorError as exc:
            log.warning("run %s: cannot read its output: %s", run_id, exc)
            return b""

    def _state(self, run_id: str, prefix: str | None) -> tuple[PipelineState | None, str]:
        if self.workspaces is None:
            return None, ""
        names = self.workspaces.list_dir(run_id, STATE_DIR)
        files = {name: self.workspaces.read(run_id, f"{STATE_DIR}/{name}") or b"" for name in names}
        data = choose_state_file(files, prefix)
        if data is None:
            return None, ""
        try:
            return parse_state(data), ""
        except StateFileError as exc:
            return None, f"the pipeline's state file could not be read: {exc}"

    def _pipelines(self, run_id: str) -> list[str]:
        if self.workspaces is None:
            return []
        return pipeline_names(self.workspaces.list_dir(run_id, PIPELINES_DIR))

    # -- clean-up --------------------------------------------------------------------------
    def owns(self, run_id: str) -> bool:
        """Whether this run has a checkout (an agent-pipeline run whose job may be gone)."""
        return self.workspaces is not None and run_id in self.workspaces.runs()

    def discard(self, run_id: str) -> None:
        """Delete the run's checkout; a failure is logged, the next clean-up tries again."""
        self._progress.pop(run_id, None)
        if self.workspaces is None:
            return
        try:
            self.workspaces.remove(run_id)
        except OvenError as exc:
            log.warning("run %s: %s", run_id, exc.message)

    def leftovers(self, known: Iterable[str]) -> list[str]:
        """Checkouts of runs that are not among ``known`` (their records are gone)."""
        if self.workspaces is None:
            return []
        keep = set(known)
        return [run_id for run_id in self.workspaces.runs() if run_id not in keep]


def _as_error(cls: str, exc: OvenError) -> ErrorInfo:
    return ErrorInfo(cls, f"{exc.message}; the run was not started", exc.hint or "")


_NO_WORKSPACES = ErrorInfo(
    "NotConfigured",
    "this reconciler has no place for agent-pipeline checkouts",
    "run agent-pipeline jobs with `oven run`, which keeps checkouts under its --state-dir",
)
