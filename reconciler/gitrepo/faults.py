"""What went wrong in a git operation, said so that a person can act on it.

dulwich and the OS raise whatever they meet: ``OSError`` from a socket or a file, protocol
errors, ``AssertionError`` for a ref that holds garbage, ``KeyError`` for a missing object,
checksum and format errors for a damaged pack. ``Faults.translate`` sorts every one of them
into the project's errors by *where* the fault is, since that decides what helps:

    where                     raised as                        what helps
    our credentials           AuthError (not transient)        other credentials
    the network or server     SourceError / LedgerError        waiting; the URL; the server
    the remote repository     SourceError / LedgerError        ``git fsck`` there
    the local mirror          MirrorDamaged (internal)         GitMirror re-creates it

``MirrorDamaged`` never leaves the package: ``GitMirror`` answers it by deleting the mirror
and fetching it again from the remote.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dulwich.client import HTTPProxyUnauthorized, HTTPUnauthorized
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository

from reconciler.errors import AuthError, OvenError

Errors = type[OvenError]

UNREACHABLE_HINT = "is the remote URL right and the server up?"
SERVER_HINT = (
    "is the remote URL right and the server up? if it is, the repository there may be "
    "damaged: run `git fsck` in it"
)
DAMAGED_HINT = (
    "run `git fsck` in the remote repository: a branch that points at garbage or at a missing "
    "object, or a damaged pack, stops every fetch; once it is repaired the next try works"
)
DENIALS = ("resp 403", "permission denied", "access denied", "authentication failed")


class MirrorDamaged(Exception):
    """The local mirror cannot be read or written; the mirror re-creates it from the remote."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def redact_url(remote: str) -> str:
    """The remote without any password, safe for messages and logs."""
    parts = urlsplit(remote)
    if not parts.scheme or parts.password is None:
        return remote
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


class Faults:
    """Translates the exceptions of operations on one remote and its mirror at ``mirror``."""

    def __init__(self, remote: str, mirror: Path) -> None:
        self.display = redact_url(remote)
        self.mirror = Path(mirror)
        self._password = urlsplit(remote).password if "://" in remote else None

    def translate(
        self,
        exc: BaseException,
        action: str,
        error: Errors,
        mirror_healthy: Callable[[], bool] | None = None,
    ) -> BaseException:
        """The error to raise for ``exc`` met while doing ``action`` (``from exc``).

        ``mirror_healthy`` is asked whether the local mirror reads fine when ``exc`` is a data
        error that could be on either side; without it a data error is the mirror's.
        """
        if isinstance(exc, OvenError | MirrorDamaged):
            return exc
        if isinstance(exc, HTTPUnauthorized | HTTPProxyUnauthorized):
            return self.denied(action, "the remote asks for credentials")
        if isinstance(exc, NotGitRepository):
            return error(
                f"cannot {action} git remote {self.display}: no repository there",
                hint="is the remote path right? it must be a git repository",
            )
        if isinstance(exc, OSError | GitProtocolError):
            return self._io_error(exc, action, error)
        if mirror_healthy is None or not mirror_healthy():
            return MirrorDamaged(self.reason(exc))
        return error(
            f"cannot {action} git remote {self.display}: the repository there is damaged "
            f"({self.reason(exc)})",
            hint=DAMAGED_HINT,
        )

    def _io_error(self, exc: OSError | GitProtocolError, action: str, error: Errors) -> OvenError:
        reason = self.reason(exc)
        if self.in_mirror(exc):
            return MirrorDamaged(reason)  # type: ignore[return-value]
        if is_denial(exc):
            return self.denied(action, reason)
        if getattr(exc, "filename", None):  # a file of a remote reached by path
            return error(
                f"cannot {action} git remote {self.display}: the repository there is damaged "
                f"or changed while it was read ({reason})",
                hint=DAMAGED_HINT,
            )
        hint = SERVER_HINT if isinstance(exc, HangupException | GitProtocolError) else None
        return error(f"cannot {action} git remote {self.display}: {reason}",
                     hint=hint or UNREACHABLE_HINT)

    def in_mirror(self, exc: BaseException) -> bool:
        name = getattr(exc, "filename", None)
        if not isinstance(name, str | bytes):
            return False
        path = Path(name.decode(errors="replace") if isinstance(name, bytes) else name)
        return path == self.mirror or self.mirror in path.parents

    def denied(self, action: str, reason: str) -> AuthError:
        return AuthError(
            f"cannot {action} git remote {self.display}: access denied ({reason})",
            hint="give the reconciler credentials that may read and push this repository "
            "(a token in the URL's secret, an ssh key); retrying will not help until then",
        )

    def reason(self, exc: BaseException) -> str:
        text = _reason(exc)
        return text.replace(self._password, "***") if self._password else text


def is_denial(exc: BaseException) -> bool:
    """An answer that says who we are is not allowed (not that the remote is unreachable)."""
    if isinstance(exc, PermissionError):
        return True
    lines = [str(exc), *(getattr(exc, "stderr_lines", None) or [])]
    text = " ".join(line.decode(errors="replace") if isinstance(line, bytes) else str(line)
                    for line in lines).lower()
    return any(denial in text for denial in DENIALS)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError) or "Connection refused" in str(exc):
        return "connection refused"
    text = str(exc).strip()
    first = text.splitlines()[0][:300] if text else ""
    name = type(exc).__name__
    if name == "error":  # zlib.error, struct.error: say which
        name = f"{type(exc).__module__}.error"
    return first if isinstance(exc, OSError | GitProtocolError) and first else (
        f"{name}: {first}" if first else name
    )
