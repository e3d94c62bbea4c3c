"""Secret values live outside git: in the reconciler's environment or a secrets file.

Manifests name secrets (``secrets: [GITHUB_TOKEN]``); this module resolves the names when a
container starts and redacts every known value from anything that is written down (logs,
log tails, status files, error messages).

Redaction looks for more than the value as written (``redaction_forms``): its base64 and
base64url encodings (padded, unpadded, and the part that is fixed wherever the value sits in a
longer base64 stream, at each of the three byte alignments), its hex in lower and upper case,
and its URL encodings. Every form is also found when the output breaks it over lines (``base64``
wraps at 76 columns, ``xxd -p`` at 60). A value shorter than ``MIN_SECRET_LENGTH`` is refused
before any container starts (``SecretTooShort``): it cannot be told apart from ordinary output,
so it could not be redacted reliably.
"""

from __future__ import annotations

import base64
import bisect
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, quote_plus

from reconciler.errors import OvenError

REDACTED = "***"
MIN_SECRET_LENGTH = 8  # characters; shorter values are refused (see SecretTooShort)
MIN_FORM_LENGTH = 6  # an encoded fragment shorter than this would match ordinary text
LINE_BREAK = re.compile(r"\r?\n|\r")
PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


class MissingSecret(OvenError):
    """A job names a secret that the reconciler does not have."""


class SecretTooShort(OvenError):
    """A secret's value is too short to be found and redacted in output; the job cannot start."""

    transient = False


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
        """Values for ``names``; MissingSecret naming every absent one, SecretTooShort every
        value shorter than ``MIN_SECRET_LENGTH``."""
        names = list(names)
        missing = [n for n in names if not self._values.get(n)]
        if missing:
            raise MissingSecret(
                f"secret(s) not available to the reconciler: {', '.join(missing)}",
                hint="set them in the reconciler's environment or its --secrets-file "
                "(NAME=value lines); values never go in the config repo",
            )
        short = [n for n in names if len(self._values[n]) < MIN_SECRET_LENGTH]
        if short:
            raise SecretTooShort(
                f"secret(s) shorter than {MIN_SECRET_LENGTH} characters: {', '.join(short)}; "
                "the job is not started, because a value this short cannot be told apart "
                "from ordinary output and so cannot be redacted from its logs",
                hint=f"use a value of at least {MIN_SECRET_LENGTH} characters "
                "(real tokens and passwords are much longer)",
            )
        return {n: self._values[n] for n in names}

    def redactor(self, names: Iterable[str]) -> Redactor:
        return Redactor(self._values[n] for n in names if self._values.get(n))


class Redactor:
    """Replaces secret values, their encodings and their line-broken forms with ***.

    ``window`` is the longest stretch of text one match can span: a caller that redacts a
    stream piece by piece keeps that many characters back until the next piece arrives.
    """

    def __init__(self, values: Iterable[str]) -> None:
        forms = {
            _joined(form)
            for value in values
            if len(value) >= MIN_SECRET_LENGTH
            for form in redaction_forms(value)
        }
        # longest first so a form containing another is replaced whole
        self._forms = sorted((f for f in forms if len(f) >= MIN_FORM_LENGTH), key=len, reverse=True)
        longest = len(self._forms[0]) if self._forms else 0
        self.window = 3 * longest  # every character may be followed by "\r\n"

    def __call__(self, text: str) -> str:
        if not self._forms:
            return text
        breaks = [(m.start(), m.end()) for m in LINE_BREAK.finditer(text)]
        joined = LINE_BREAK.sub("", text) if breaks else text
        spans = _merge(span for form in self._forms for span in _find_all(joined, form))
        if not spans:
            return text
        if breaks:
            starts, removed = _break_index(breaks)
            spans = [
                (_original(a, starts, removed), _original(b - 1, starts, removed) + 1)
                for a, b in spans
            ]
        return _replace(text, spans)

    def unfinished(self, text: str) -> int:
        """Where in ``text`` (already redacted) a match may start that more text could still
        complete; ``len(text)`` when none can. A live stream holds back only from there, not
        a whole ``window``, so an ordinary line shows as soon as it is written."""
        for start in range(max(0, len(text) - self.window), len(text)):
            tail = LINE_BREAK.sub("", text[start:])
            if tail and any(form.startswith(tail) for form in self._forms):
                return start
        return len(text)


def redaction_forms(value: str) -> set[str]:
    """Every way ``value`` is looked for in output (see the module docstring)."""
    raw = value.encode()
    forms = {value, raw.hex(), raw.hex().upper(), quote(value, safe=""), quote_plus(value, safe="")}
    forms |= {PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), form) for form in set(forms)}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        padded = encode(raw).decode()
        forms |= {padded, padded.rstrip("=")}
        forms |= {_base64_core(raw, shift, encode) for shift in (0, 1, 2)}
    return {form for form in forms if form}


def _base64_core(raw: bytes, shift: int, encode: Callable[[bytes], bytes]) -> str:
    """The base64 characters that only ``raw``'s bits decide when ``raw`` starts ``shift`` bytes
    into a 3-byte group of a longer stream (characters shared with neighbours are left out)."""
    text = encode(b"\0" * shift + raw).decode().rstrip("=")
    skip = (0, 2, 3)[shift]  # characters that also carry bits of the bytes before
    whole, rest = divmod(shift + len(raw), 3)
    keep = whole * 4 + rest  # a partial group: only its first `rest` characters are fixed
    return text[skip:keep]


def _joined(form: str) -> str:
    return LINE_BREAK.sub("", form)


def _find_all(text: str, form: str) -> Iterable[tuple[int, int]]:
    start = text.find(form)
    while start != -1:
        yield start, start + len(form)
        start = text.find(form, start + 1)


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:  # touching spans stay apart: a line break between
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _break_index(breaks: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """For each break: where it sits in the joined text, and how many characters came before."""
    starts: list[int] = []
    removed: list[int] = []
    total = 0
    for start, end in breaks:
        starts.append(start - total)
        total += end - start
        removed.append(total)
    return starts, removed


def _original(position: int, starts: list[int], removed: list[int]) -> int:
    """Where the character at ``position`` of the text without line breaks is in the text."""
    before = bisect.bisect_right(starts, position)  # breaks removed before this character
    return position + (removed[before - 1] if before else 0)


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    parts: list[str] = []
    last = 0
    for start, end in spans:
        parts += [text[last:start], REDACTED]
        last = end
    parts.append(text[last:])
    return "".join(parts)


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
