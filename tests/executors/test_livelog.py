"""LiveWriter: the live log shows lines at once yet never a secret written in two pieces."""

from __future__ import annotations

import io

from reconciler.executors.livelog import LiveWriter
from reconciler.secrets import Redactor

SECRET = "s3cr3t-value-xyz"


def test_an_ordinary_line_is_written_at_once() -> None:
    out = io.BytesIO()
    writer = LiveWriter(out, Redactor([SECRET]), 1 << 20)
    writer.feed(b"hello world\n")
    assert out.getvalue() == b"hello world\n"


def test_a_secret_split_over_two_chunks_never_reaches_the_file() -> None:
    out = io.BytesIO()
    writer = LiveWriter(out, Redactor([SECRET]), 1 << 20)
    writer.feed(b"token=" + SECRET[:7].encode())
    assert SECRET[:7].encode() not in out.getvalue()  # could be a secret's start: held back
    writer.feed(SECRET[7:].encode() + b" done\n")
    writer.close()
    assert out.getvalue() == b"token=*** done\n"


def test_the_live_file_stops_at_the_cap_with_a_marker() -> None:
    out = io.BytesIO()
    writer = LiveWriter(out, None, 4096)
    assert writer.feed(b"x" * 100 + b"\n")
    assert not writer.feed(b"y" * 8000)
    assert b"the live log stops here" in out.getvalue()
    assert len(out.getvalue()) < 4096 + 200


def test_unfinished_points_at_a_possible_start_of_a_secret_only() -> None:
    redact = Redactor([SECRET])
    assert redact.unfinished("plain text\n") == len("plain text\n")
    assert redact.unfinished("key s3cr") == len("key ")
