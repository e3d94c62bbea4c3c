"""Secret values live outside git: in the reconciler's environment or a secrets file.

Manifests name secrets (``secrets: [GITHUB_TOKEN]``); this module resolves the names when a
container starts and redacts every known value from anything that is written down (logs,
log tails, status files, error messages).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from reconciler.errors import OvenError

REDACTED = "***"
_MIN_REDACT_LEN = 4  # shorter values would redact ordinary words


class MissingSecret(OvenError):
    """A job names a secret that the reconciler does not have."""


class SecretStore:
    """Secret values by name, from a dotenv-style file (NAME=value) and then the environment."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    @classmethod
    def load(cls, path: Path | None, environ: Mapping[str, str] | None = None) -> SecretStore:
        values = dict(environ if environ is not None else os.environ)
        if path is not None:
            values.update(_read_dotenv(path))
        return cls(values)

    def resolve(self, names: Iterable[str]) -> dict[str, str]:
        """Values for ``names``; MissingSecret naming every absent one."""
        names = list(names)
        missing = [n for n in names if not self._values.get(n)]
        if missing:
            raise MissingSecret(
                f"secret(s) not available to the reconciler: {', '.join(missing)}",
                hint="set them in the reconciler's environment or its --secrets-file "
                "(NAME=value lines); values never go in the config repo",
            )
        return {n: self._values[n] for n in names}

    def redactor(self, names: Iterable[str]) -> Redactor:
        return Redactor(self._values[n] for n in names if self._values.get(n))


class Redactor:
    """Replaces secret values in text with ***."""

    def __init__(self, values: Iterable[str]) -> None:
        # longest first so a secret containing another is replaced whole
        self._values = sorted(
            {v for v in values if len(v) >= _MIN_REDACT_LEN}, key=len, reverse=True
        )

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        return text


def _read_dotenv(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise OvenError(f"cannot read secrets file {path}: {exc.strerror}") from exc
    values: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise OvenError(f"{path}:{number}: expected NAME=value")
        values[name.strip()] = value.strip().strip("'\"")
    return values
