"""Agent pipelines, the pure part: Agent Pipeline's output read into what a run file says.

Running an agent pipeline is an executor concern (a container of the runner image on a
per-run checkout) plus this package, a pure parser of what the pipeline writes. No I/O, no
clock, no adapter: the cycle (``reconciler.pipeline_runs``) reads the container's output and
the checkout's files through ``reconciler.interfaces`` and hands the bytes in here.

    progress.py   the progress lines -> live stages, incrementally from a growing log
    state.py      the state file -> stages with tokens, commits, errors; the pull request
    failures.py   how a run ended -> status and an error a person can act on (a table)
    auth.py       auth modes: what each hands the container, the pre-flight check
    runs.py       the run record step by step: live stages, the final merge, redaction

The formats are those of Agent Pipeline 0.1.5 and Claude Code; docs/agent-pipelines.md is
the user's view of them.
"""

from reconciler.pipelines.auth import (
    AUTH_MODES,
    DEFAULT_AUTH,
    HOST_LOGIN_MOUNT,
    IMAGE_LABEL,
    HostLogin,
    auth_env,
    auth_secret_names,
    host_login_volumes,
    preflight,
)
from reconciler.pipelines.failures import Ending, classify
from reconciler.pipelines.progress import Progress, advance
from reconciler.pipelines.runs import Finish, concluded, merge_stages, redacted, with_progress
from reconciler.pipelines.state import (
    PipelineState,
    StateFileError,
    choose_state_file,
    parse_state,
    token_totals,
)

PIPELINES_DIR = ".agent-pipeline/pipelines"
STATE_DIR = ".agent-pipeline/state/runs"


def pipeline_names(files: list[str]) -> list[str]:
    """The pipeline names among the file names of ``.agent-pipeline/pipelines/``."""
    return sorted(name[: -len(".yml")] for name in files if name.endswith(".yml"))


__all__ = [
    "AUTH_MODES",
    "DEFAULT_AUTH",
    "HOST_LOGIN_MOUNT",
    "IMAGE_LABEL",
    "PIPELINES_DIR",
    "STATE_DIR",
    "Ending",
    "Finish",
    "HostLogin",
    "PipelineState",
    "Progress",
    "StateFileError",
    "advance",
    "auth_env",
    "auth_secret_names",
    "choose_state_file",
    "classify",
    "concluded",
    "host_login_volumes",
    "merge_stages",
    "parse_state",
    "pipeline_names",
    "preflight",
    "redacted",
    "token_totals",
    "with_progress",
]
