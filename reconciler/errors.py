"""The project's exception tree.

Every error a user can meet is one of these; third-party errors (docker, dulwich, yaml,
jsonschema) are translated at the boundary with ``raise OvenError(...) from exc`` so the
message says what to do next, and the CLI prints ``error: <message>`` with ``hint: <hint>``
instead of a traceback.

    OvenError                    base; ``message`` and an optional ``hint``
    ├── ManifestError            a manifest or oven.yaml cannot be used (carries Problems)
    ├── ScheduleError            a schedule that can never fire or cannot be parsed
    ├── SourceError              the config repo cannot be fetched or read
    ├── LedgerError              status files cannot be committed or pushed
    │   └── PushRejected         the remote status branch moved; re-read it and write again
    ├── ExecutorError            the container engine refused or is unreachable
    │   ├── EngineUnavailable    no engine answers
    │   └── RunAlreadyExists     a container for this run id exists (counts as started)
    └── UsageError               bad command-line input
"""

from __future__ import annotations


class OvenError(Exception):
    """Base of every error the project raises on purpose."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ManifestError(OvenError):
    """A manifest cannot be loaded; ``problems`` lists each file:line: field: message."""

    def __init__(self, message: str, problems: tuple[object, ...] = (), hint: str | None = None):
        super().__init__(message, hint)
        self.problems = problems


class ScheduleError(OvenError):
    """A schedule that cannot be parsed or can never fire."""


class SourceError(OvenError):
    """The config repository cannot be fetched or read."""


class LedgerError(OvenError):
    """Status files cannot be written to git."""


class PushRejected(LedgerError):
    """The remote branch moved under us; the caller re-reads the tip and writes again."""


class ExecutorError(OvenError):
    """The container engine refused a request."""


class EngineUnavailable(ExecutorError):
    """No container engine answers."""


class RunAlreadyExists(ExecutorError):
    """A container for this run id already exists: the run counts as started."""


class UsageError(OvenError):
    """Bad command-line input."""
