"""The project's exception tree.

Every error a user can meet is one of these; third-party errors (docker, dulwich, yaml,
jsonschema) are translated at the boundary with ``raise OvenError(...) from exc`` so the
message says what to do next, and the CLI prints ``error: <message>`` with ``hint: <hint>``
instead of a traceback.

Each class also carries its policy: ``reason``, the word shown as the reason of the
reconciler's conditions (the class name, so logs, status files and code say the same thing),
and ``transient``: will trying again later help? A transient error makes the failing step back
off and retry; a non-transient one sets ``Stalled=True``: a person must act.

    class                        transient
    OvenError                    yes   base; ``message`` and an optional ``hint``
    ├── ManifestError            no    a manifest or oven.yaml cannot be used (carries Problems)
    ├── ScheduleError            no    a schedule that can never fire or cannot be parsed
    ├── SourceError              yes   the config repo cannot be fetched or read
    ├── LedgerError              yes   status files cannot be committed or pushed
    │   ├── PushRejected         yes   the remote status branch moved; re-read it, write again
    │   ├── StatusRewritten      yes   the status branch lost our commits (a force-push)
    │   └── StatusQueued         yes   the remote is unreachable: the write waits in the state dir
    ├── AuthError                no    a remote refused our credentials (401/403, denied)
    ├── ExecutorError            yes   the container engine refused a request
    │   ├── EngineUnavailable    yes   no engine answers
    │   ├── RunAlreadyExists     yes   a container for this run id exists (counts as started)
    │   └── VolumeRefused        no    a host path resolves outside the volume allow-list
    ├── UsageError               no    bad command-line input
    └── UnexpectedError          yes   any other exception, contained: a bug, reported as one
"""

from __future__ import annotations


class OvenError(Exception):
    """Base of every error the project raises on purpose."""

    reason: str = "OvenError"  # a subclass's reason is its class name unless it sets one
    transient: bool = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "reason" not in cls.__dict__:
            cls.reason = cls.__name__

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ManifestError(OvenError):
    """A manifest cannot be loaded; ``problems`` lists each file:line: field: message."""

    transient = False

    def __init__(self, message: str, problems: tuple[object, ...] = (), hint: str | None = None):
        super().__init__(message, hint)
        self.problems = problems


class ScheduleError(OvenError):
    """A schedule that cannot be parsed or can never fire."""

    transient = False


class SourceError(OvenError):
    """The config repository cannot be fetched or read."""

    transient = True


class LedgerError(OvenError):
    """Status files cannot be written to git."""

    transient = True


class PushRejected(LedgerError):
    """The remote branch moved under us; the caller re-reads the tip and writes again."""

    transient = True


class StatusRewritten(LedgerError):
    """The status branch no longer holds the commits this reconciler wrote (a force-push or a
    deleted branch): the files it wrote may be gone, so read the branch and write it all again.
    """

    transient = True


class LeaseLost(LedgerError):
    """The status branch's lease names another daemon: this one no longer leads, so its
    status write is refused (never written on top of the new leader's) and it stands by."""

    transient = True


class StatusQueued(LedgerError):
    """The status write could not be pushed and waits, durably, in the state directory; it is
    pushed (in order, before any newer write) when the remote answers again. For the recorder
    the files count as written."""

    transient = True


class AuthError(OvenError):
    """A remote refused our credentials (HTTP 401/403, ssh permission denied, no read access).

    Trying again with the same credentials cannot help, so the reconciler reports
    ``Stalled=True`` and retries only at the slowest pace until someone fixes them.
    """

    transient = False


class ExecutorError(OvenError):
    """The container engine refused a request."""

    transient = True


class EngineUnavailable(ExecutorError):
    """No container engine answers."""

    transient = True


class RunAlreadyExists(ExecutorError):
    """A container for this run id already exists: the run counts as started."""

    transient = True


class VolumeRefused(ExecutorError):
    """A bind mount's host path, resolved when the container is created, leaves the allow-list."""

    transient = False


class UsageError(OvenError):
    """Bad command-line input."""

    transient = False


BUG_HINT = "this is a bug in Agent Oven: please report it with the traceback from the log"


class UnexpectedError(OvenError):
    """An exception no code expected (not an OvenError), contained where it was raised.

    One job, one file, one request or one step fails with it; the daemon goes on. ``step``
    says where it happened, ``cause`` is the exception's class name.
    """

    transient = True

    def __init__(self, step: str, exc: BaseException) -> None:
        self.step = step
        self.cause = type(exc).__name__
        text = str(exc).strip() or "(no message)"
        super().__init__(f"{step}: unexpected {self.cause}: {text}", BUG_HINT)
