"""Where a run's log is kept on the reconciler's host: ``<state_dir>/logs/<job>/<run>.log``.

Shared by every executor's ``write_log``. The output arrives as a stream of chunks and is
written as it comes, so a run that printed 100 MB never sits in the reconciler's memory. The
file is capped at ``max_bytes`` (``--max-log-bytes``): the first half and the last half are
kept, with a marker line in between that says how many bytes were cut. Redaction of secret
values is the caller's job; it hands a ``redact`` function in, and only redacted text ever
reaches the disk. A function with a ``window`` attribute (``secrets.Redactor``) says how long
one match can be: that many characters are held back between pieces, so a secret that arrives
split over two chunks is still found. The tail is redacted from the cut on, and its first
``window`` characters are dropped too, so no fragment of a secret the cut went through is kept.

While a run runs, ``livelog`` streams its redacted output to ``<run>.live`` beside it; ``save``
removes that file once the final log is in place. ``read_log`` is the one reader of both (the
web app's log endpoint and ``oven logs -f``): it reads ``<run>.log`` when it exists, else
``<run>.live``.
"""

from __future__ import annotations

import codecs
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reconciler.errors import ExecutorError

Redact = Callable[[str], str]

DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024  # per run; --max-log-bytes / OVEN_MAX_LOG_BYTES
MIN_MAX_LOG_BYTES = 4 * 1024  # below this a capped log would be mostly marker
PIECE = 64 * 1024  # characters redacted at a time
NEWLINE_SEARCH = 4096  # bytes: a cut moves to a line end when one is this close
READ_CHUNK = 1024 * 1024  # bytes ``read_log`` answers at most at a time


def log_path(state_dir: Path, job_id: str, run_id: str) -> Path:
    """The log file of one run; refuses ids that would leave the logs directory."""
    for name, value in (("job id", job_id), ("run id", run_id)):
        if not value or "/" in value or "\\" in value or value.startswith("."):
            raise ExecutorError(f"cannot store a log under the {name} {value!r}")
    return state_dir / "logs" / job_id / f"{run_id}.log"


def live_path(state_dir: Path, job_id: str, run_id: str) -> Path:
    """The log of a run while it runs (``livelog``); gone once ``<run>.log`` is saved."""
    return log_path(state_dir, job_id, run_id).with_suffix(".live")


@dataclass(frozen=True)
class LogChunk:
    """A piece of a run's log as ``read_log`` found it."""

    data: bytes  # the bytes from the asked offset on (at most ``READ_CHUNK``)
    offset: int  # where the next read starts: the asked offset plus len(data)
    final: bool  # True when the run's final log is saved: nothing will be added after ``offset``


def read_log(
    state_dir: Path, job_id: str, run_id: str, offset: int = 0, limit: int = READ_CHUNK
) -> LogChunk:
    """The log of a run from byte ``offset``: the saved ``<run>.log`` (``final``) when it exists,
    else what ``<run>.live`` holds so far, else nothing yet. Both are redacted; a live log is
    the saved log's prefix unless the output outgrew ``--max-log-bytes``. An offset past the
    end answers no data and the end as the next offset."""
    offset = max(0, offset)
    final_path = log_path(state_dir, job_id, run_id)
    for path, final in ((final_path, True), (live_path(state_dir, job_id, run_id), False)):
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                start = min(offset, size)
                handle.seek(start)
                data = handle.read(limit)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ExecutorError(
                f"cannot read the log of run {run_id} at {path}: {exc.strerror or exc}",
                hint="check that the state directory is readable",
            ) from exc
        return LogChunk(data, start + len(data), final and start + len(data) >= size)
    return LogChunk(b"", offset, final_path.exists())


def save(
    state_dir: Path,
    job_id: str,
    run_id: str,
    output: bytes | Iterable[bytes],
    redact: Redact | None = None,
    max_bytes: int = DEFAULT_MAX_LOG_BYTES,
) -> Path:
    """Write the output (redacted when a redact function is given, capped at ``max_bytes``)
    atomically; return the path. ``output`` is the whole output or a stream of chunks."""
    path = log_path(state_dir, job_id, run_id)
    chunks = _pieces(output) if isinstance(output, bytes) else output
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as out:
            writer = CappedWriter(out, redact, max_bytes)
            for chunk in chunks:
                writer.feed(chunk)
            writer.close()
        os.replace(partial, path)
        path.with_suffix(".live").unlink(missing_ok=True)
    except OSError as exc:
        raise ExecutorError(
            f"cannot write the log of run {run_id} to {path}: {exc.strerror or exc}",
            hint="check that the state directory exists and is writable",
        ) from exc
    return path


class CappedWriter:
    """Redacts a stream of chunks into ``out``, keeping its head and tail within ``max_bytes``.

    Head: redacted piece by piece and written at once until half the budget is used. Tail:
    raw chunks in a ring of the other half; older ones fall out (counted as cut). ``close``
    writes the marker, when something was cut, and the redacted tail.
    """

    def __init__(self, out: BinaryIO, redact: Redact | None, max_bytes: int) -> None:
        self.out, self.redact = out, redact or (lambda text: text)
        self.window = int(getattr(redact, "window", 0)) if redact else 0
        self.max_bytes = max(max_bytes, MIN_MAX_LOG_BYTES)
        self.head_left = self.max_bytes // 2
        self.tail_budget = self.max_bytes - self.head_left
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.pending = ""  # head phase: decoded text not written yet
        self.ring: deque[bytes] = deque()  # tail phase: raw output, newest last
        self.ring_bytes = 0
        self.cut = 0  # bytes of output left out
        self.in_tail = False

    def feed(self, chunk: bytes) -> None:
        if self.in_tail:
            self._keep_tail(chunk)
            return
        self.pending += self.decoder.decode(chunk)
        if len(self.pending) >= PIECE + self.window:
            self._write_head(final=False)

    def close(self) -> None:
        if not self.in_tail:
            self.pending += self.decoder.decode(b"", final=True)
            self._write_head(final=True)
            return
        over = max(0, self.ring_bytes - self.tail_budget)
        pieces = self._redacted_tail(over)
        if not (self.cut or over):
            for piece in pieces:
                self.out.write(piece)
            return
        first = next(pieces, b"")
        start = self._start_of_tail(first)
        self.cut += over + start
        self.out.write(self._marker())
        self.out.write(first[start:])
        for piece in pieces:
            self.out.write(piece)

    # -- head ------------------------------------------------------------------------------
    def _write_head(self, final: bool) -> None:
        text = self.redact(self.pending)
        hold = 0 if final else min(self.window, len(text))
        ready, self.pending = text[: len(text) - hold], text[len(text) - hold :]
        data = ready.encode(errors="surrogateescape")
        if len(data) <= self.head_left:
            self.out.write(data)
            self.head_left -= len(data)
            return
        end = _line_end(data, self.head_left)
        self.out.write(data[:end])
        self.in_tail = True  # the rest of the text and everything after it go to the ring
        self._keep_tail(
            data[end:] + self.pending.encode(errors="surrogateescape") + self._undecoded()
        )
        self.pending = ""

    def _undecoded(self) -> bytes:
        buffered, _ = self.decoder.getstate()
        return bytes(buffered)

    # -- tail ------------------------------------------------------------------------------
    def _keep_tail(self, chunk: bytes) -> None:
        self.ring.append(chunk)
        self.ring_bytes += len(chunk)
        while self.ring and self.ring_bytes - len(self.ring[0]) >= self.tail_budget:
            dropped = self.ring.popleft()
            self.ring_bytes -= len(dropped)
            self.cut += len(dropped)

    def _start_of_tail(self, first: bytes) -> int:
        """Where the kept tail starts in its first redacted piece: past ``window`` characters
        (the rest of a match the cut went through lies there; matches wholly after the cut
        are already redacted) and on to the next line end if one is near."""
        skip = min(len(first), self.window * 4)  # a character is at most 4 bytes
        newline = first.find(b"\n", skip, skip + NEWLINE_SEARCH)
        return newline + 1 if newline != -1 else skip

    def _redacted_tail(self, skip: int) -> Iterator[bytes]:
        """The ring from byte ``skip`` on, redacted, in pieces; the first is long enough for
        ``_start_of_tail`` unless it is the only one."""
        decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        pending = ""
        while self.ring:
            chunk = self.ring.popleft()
            if skip:
                chunk, skip = chunk[skip:], max(0, skip - len(chunk))
            pending += decoder.decode(chunk)
            if len(pending) >= PIECE + self.window + NEWLINE_SEARCH:
                text = self.redact(pending)
                hold = min(self.window, len(text))
                yield text[: len(text) - hold].encode(errors="surrogateescape")
                pending = text[len(text) - hold :]
        pending += decoder.decode(b"", final=True)
        yield self.redact(pending).encode(errors="surrogateescape")

    def _marker(self) -> bytes:
        half = self.tail_budget
        return (
            f"\n[oven: {self.cut} bytes of output cut here; a saved log keeps at most "
            f"{self.max_bytes} bytes (--max-log-bytes): about the first and the last {half}]\n"
        ).encode(errors="surrogateescape")


def _line_end(data: bytes, limit: int) -> int:
    """Where to end the head: at ``limit`` bytes, or just after a newline shortly before it."""
    newline = data.rfind(b"\n", max(0, limit - NEWLINE_SEARCH), limit)
    return newline + 1 if newline != -1 else limit


def _pieces(output: bytes) -> Iterable[bytes]:
    view = memoryview(output)
    for start in range(0, len(output), PIECE):
        yield bytes(view[start : start + PIECE])
