"""API tokens: created once, shown once, stored as their SHA-256 in the state dir.

``<state-dir>/api-tokens.json`` (mode 0600) holds, per token, its name, the hex SHA-256 of
the token, its scope (job ids, or ``*`` for every job) and when it was made. The token itself
is never written anywhere: a token is 32 random bytes, so a plain hash cannot be reversed or
guessed. ``lookup`` compares the hash of what a client sent against every stored hash in
constant time and without stopping early. Revoking deletes the entry: the next request with
that token gets 401. The file is re-read when it changes, so ``oven token revoke`` works on a
running daemon at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.clock import iso
from reconciler.errors import UsageError

FILE = "api-tokens.json"
PREFIX = "oven_"  # tokens start with it, so a leaked one is easy to search for
ALL_JOBS = "*"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Token:
    """A stored token: never the token itself, only its hash."""

    name: str
    sha256: str  # hex digest of the token
    jobs: tuple[str, ...]  # job ids it may act on; ("*",) for every job
    created_at: str

    def allows(self, job_id: str) -> bool:
        return ALL_JOBS in self.jobs or job_id in self.jobs


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class TokenStore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE
        self._seen: tuple[float, int] | None = None
        self._tokens: tuple[Token, ...] = ()

    def create(self, name: str | None, jobs: Sequence[str]) -> tuple[Token, str]:
        """A new token named ``name`` for ``jobs``; returns it with the token text (shown once)."""
        name = name or f"token-{secrets.token_hex(3)}"
        if not NAME.fullmatch(name):
            raise UsageError(
                f"bad token name {name!r}",
                hint="use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            )
        tokens = self.all()
        if any(t.name == name for t in tokens):
            raise UsageError(f"a token named {name!r} exists", hint="choose another --name")
        text = PREFIX + secrets.token_urlsafe(32)
        scope = tuple(dict.fromkeys(jobs)) or (ALL_JOBS,)
        token = Token(name, digest(text), scope, iso(datetime.now(UTC)) or "")
        self._save((*tokens, token))
        return token, text

    def revoke(self, name: str) -> bool:
        tokens = self.all()
        kept = tuple(t for t in tokens if t.name != name)
        if len(kept) == len(tokens):
            return False
        self._save(kept)
        return True

    def all(self) -> tuple[Token, ...]:
        """Every stored token (re-read when the file changed); none if there is no file."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return ()
        seen = (stat.st_mtime, stat.st_size)
        if seen != self._seen:
            self._tokens, self._seen = _read(self.path), seen
        return self._tokens

    def lookup(self, presented: str) -> Token | None:
        """The token whose hash matches ``presented``, compared in constant time."""
        wanted, found = digest(presented), None
        for token in self.all():
            if hmac.compare_digest(token.sha256, wanted):
                found = token
        return found

    def _save(self, tokens: Sequence[Token]) -> None:
        data = {
            "schema_version": 1,
            "tokens": [
                {
                    "name": t.name,
                    "sha256": t.sha256,
                    "jobs": list(t.jobs),
                    "created_at": t.created_at,
                }
                for t in tokens
            ],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._seen = None


def _read(path: Path) -> tuple[Token, ...]:
    try:
        data = json.loads(path.read_text())
        return tuple(
            Token(t["name"], t["sha256"], tuple(t["jobs"]), t.get("created_at", ""))
            for t in data["tokens"]
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"cannot read the API tokens in {path}: {exc}",
            hint="restore the file from a backup, or delete it and create the tokens again",
        ) from exc
