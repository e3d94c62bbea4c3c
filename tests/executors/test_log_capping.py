"""Saved run logs: streamed to disk, capped with head and tail kept, redacted across chunk
boundaries and at the cut (``executors.logfiles`` on a real directory; the real engine's
100 MB case is in tests/chaos/test_hardening.py)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from reconciler.executors import frames, logfiles
from reconciler.secrets import Redactor

SECRET = "s3cr3t-value-42"
LINE = f"{'x' * 40} {SECRET} {base64.b64encode(SECRET.encode()).decode()}\n".encode()
MARKER = re.compile(rb"\n\[oven: (\d+) bytes of output cut here; a saved log keeps at most (\d+)")


def save(tmp_path: Path, chunks: list[bytes], max_bytes: int, redact=None) -> bytes:
    path = logfiles.save(tmp_path, "job", "run-1", iter(chunks), redact, max_bytes)
    return path.read_bytes()


def test_a_log_under_the_cap_is_kept_whole_byte_for_byte(tmp_path: Path) -> None:
    output = b"\xff\x00 raw bytes\n" * 100
    assert save(tmp_path, [output[:7], output[7:]], 10_000) == output


def test_a_long_log_keeps_its_head_and_tail_and_says_how_much_was_cut(tmp_path: Path) -> None:
    lines = [f"line {n:06d}\n".encode() for n in range(100_000)]  # 1.2 MB
    saved = save(tmp_path, lines, 64 * 1024)
    assert len(saved) <= 64 * 1024 + 200, "the cap, plus the marker line"
    marker = MARKER.search(saved)
    assert marker is not None and int(marker.group(2)) == 64 * 1024
    head, tail = saved[: marker.start()], saved[marker.end() :].split(b"\n", 1)[1]
    assert head.startswith(b"line 000000\n") and tail.endswith(b"line 099999\n")
    assert head.endswith(b"\n") and tail.startswith(b"line "), "cut at line ends"
    kept = head.count(b"\n") + tail.count(b"\n")
    assert int(marker.group(1)) == pytest.approx((100_000 - kept) * 12, abs=12)


@pytest.mark.parametrize("size", [1, 7, 100, 4096, 65_536 + 13])
def test_secrets_are_redacted_however_the_stream_is_chunked(tmp_path: Path, size: int) -> None:
    output = LINE * 3000
    chunks = [output[i : i + size] for i in range(0, len(output), size)]
    saved = save(tmp_path, chunks, 10 * 1024**2, Redactor([SECRET]))
    assert SECRET.encode() not in saved and b"czNjcjN0" not in saved
    assert saved.count(b"***") == 6000


def test_no_fragment_of_a_secret_is_left_at_the_cut(tmp_path: Path) -> None:
    output = (SECRET + "|").encode() * 20_000  # no line ends: the cut falls inside secrets
    chunks = [output[i : i + 999] for i in range(0, len(output), 999)]
    saved = save(tmp_path, chunks, 8192, Redactor([SECRET]))
    marker = MARKER.search(saved)
    assert marker is not None
    for part in (saved[: marker.start()], saved[marker.end() :].split(b"\n", 1)[1]):
        assert set(part.split(b"|")) <= {b"***", b""}, "only whole redactions, no piece of one"


def test_the_cap_has_a_floor_so_the_marker_is_never_most_of_the_log(tmp_path: Path) -> None:
    saved = save(tmp_path, [b"y" * 100_000], 10)
    assert logfiles.MIN_MAX_LOG_BYTES <= len(saved) <= logfiles.MIN_MAX_LOG_BYTES + 200


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


@pytest.mark.parametrize("block", [1, 3, 8, 9, 50, 10_000])
def test_the_engines_frames_are_joined_back_into_output_however_they_are_read(block: int) -> None:
    stream = b"".join(frame(1 + n % 2, f"line {n}\n".encode()) for n in range(200))
    blocks = [stream[i : i + block] for i in range(0, len(stream), block)]
    assert b"".join(frames.payloads(blocks)) == b"".join(f"line {n}\n".encode() for n in range(200))


def test_a_stream_cut_inside_a_frame_keeps_what_arrived() -> None:
    assert b"".join(frames.payloads([frame(1, b"whole"), frame(1, b"partial")[:-3]])) == (
        b"wholepart"
    )


def test_read_log_prefers_the_saved_log_and_says_when_it_is_final(tmp_path: Path) -> None:
    LogChunk, read_log = logfiles.LogChunk, logfiles.read_log
    assert read_log(tmp_path, "job", "run-1", 0) == LogChunk(b"", 0, False)
    live = logfiles.live_path(tmp_path, "job", "run-1")
    live.parent.mkdir(parents=True)
    live.write_bytes(b"one\ntwo\n")
    assert read_log(tmp_path, "job", "run-1", 4) == LogChunk(b"two\n", 8, False)
    assert read_log(tmp_path, "job", "run-1", 99) == LogChunk(b"", 8, False)
    logfiles.save(tmp_path, "job", "run-1", b"one\ntwo\nthree\n")
    assert not live.exists()
    assert read_log(tmp_path, "job", "run-1", 8) == LogChunk(b"three\n", 14, True)
    assert read_log(tmp_path, "job", "run-1", 0, limit=4) == LogChunk(b"one\n", 4, False)
