"""Live log capture: while a run runs, its redacted output grows in ``<run>.live``.

Each executor's ``follow_log`` hands ``LogFollowers.follow`` a function that opens the
container's output as a stream (the engine's ``logs --follow``); one daemon thread per
running container copies it, redacted, into ``logfiles.live_path``. The scheduling path only
pays for starting a thread. ``follow`` is idempotent: a run that already has a living follower
is left alone, so the cycle may ask again on every tick, and a restarted daemon follows
adopted containers afresh (the file is rewritten from the first byte).

Redaction is the same as for the saved log: text is redacted piece by piece, and what could be
the start of a secret (``secrets.Redactor.unfinished``; the last ``window`` characters when the
redactor cannot say) is held back until more output arrives or the stream ends, so a secret
written in two pieces is still found and an ordinary line shows at once. A live file stops growing
at ``max_bytes`` with a marker line; the saved log (head and tail) replaces it at the end.
"""

from __future__ import annotations

import codecs
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from reconciler.executors import logfiles

log = logging.getLogger("oven")

Stream = Callable[[], Iterable[bytes]]  # opens the output of a container, following it


class LiveWriter:
    """Redacts a stream of chunks into ``out`` as they come, flushing each one."""

    def __init__(self, out: BinaryIO, redact: logfiles.Redact | None, max_bytes: int) -> None:
        self.out, self.redact = out, redact or (lambda text: text)
        self.window = int(getattr(redact, "window", 0)) if redact else 0
        self.left = max(max_bytes, logfiles.MIN_MAX_LOG_BYTES)
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.pending = ""
        self.full = False

    def feed(self, chunk: bytes) -> bool:
        """Write what can be shown of ``chunk``; False once the cap is reached."""
        self.pending += self.decoder.decode(chunk)
        return self._write(final=False)

    def close(self) -> None:
        self.pending += self.decoder.decode(b"", final=True)
        self._write(final=True)

    def _unfinished(self, text: str) -> int:
        """Where the text to hold back starts: a possible start of a secret, else the last
        ``window`` characters when the redactor cannot say."""
        unfinished = getattr(self.redact, "unfinished", None)
        if callable(unfinished):
            return int(unfinished(text))
        return len(text) - min(self.window, len(text))

    def _write(self, final: bool) -> bool:
        if self.full:
            return False
        text = self.redact(self.pending)
        cut = len(text) if final else self._unfinished(text)
        ready, self.pending = text[:cut], text[cut:]
        data = ready.encode(errors="surrogateescape")
        if len(data) > self.left:
            end = data.rfind(b"\n", 0, self.left) + 1 or self.left
            data = data[:end] + (
                b"\n[oven: the live log stops here; the saved log keeps the first and the "
                b"last part of the output (--max-log-bytes) when the run ends]\n"
            )
            self.full = True
        self.out.write(data)
        self.out.flush()
        self.left -= len(data)
        return not self.full


class LogFollowers:
    """One follower thread per running container, keyed by run id."""

    def __init__(self, state_dir: Path, max_bytes: int) -> None:
        self.state_dir, self.max_bytes = state_dir, max_bytes
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def follow(
        self, run_id: str, job_id: str, stream: Stream, redact: logfiles.Redact | None
    ) -> bool:
        """Start following the run unless a follower for it still lives; True if started."""
        live = logfiles.live_path(self.state_dir, job_id, run_id)
        with self._lock:
            running = self._threads.get(run_id)
            if running is not None and running.is_alive():
                return False
            self._threads = {run: t for run, t in self._threads.items() if t.is_alive()}
            thread = threading.Thread(
                target=self._copy,
                args=(run_id, live, stream, redact),
                name=f"oven-live-{run_id}",
                daemon=True,
            )
            self._threads[run_id] = thread
        thread.start()
        return True

    def following(self) -> list[str]:
        """Run ids whose follower still copies output (for tests and ``oven doctor``)."""
        with self._lock:
            return sorted(run for run, thread in self._threads.items() if thread.is_alive())

    def wait(self, run_id: str, timeout: float | None = None) -> None:
        """Wait until the run's follower ended (tests)."""
        with self._lock:
            thread = self._threads.get(run_id)
        if thread is not None:
            thread.join(timeout)

    def _copy(
        self, run_id: str, live: Path, stream: Stream, redact: logfiles.Redact | None
    ) -> None:
        try:
            live.parent.mkdir(parents=True, exist_ok=True)
            live.unlink(missing_ok=True)  # a new file: an older follower keeps its own
            chunks = stream()
            try:
                with live.open("wb") as out:
                    writer = LiveWriter(out, redact, self.max_bytes)
                    for chunk in chunks:
                        if not writer.feed(chunk):
                            break
                    writer.close()
            finally:  # stopped early (capped): the engine's stream is closed now, not by the GC
                close = getattr(chunks, "close", None)
                if callable(close):
                    close()
        except Exception as exc:  # the engine went away, the disk is full: the run goes on
            log.warning("run %s: live log stopped: %s", run_id, exc)
        finally:
            if live.with_suffix(".log").exists():  # saved while we copied: the live file is stale
                live.unlink(missing_ok=True)
