"""Redaction of secret values and their encodings, and the refusal of values too short to
redact (pure: ``reconciler.secrets`` on strings; the real-engine proof is in
tests/chaos/test_hardening.py)."""

from __future__ import annotations

import base64
import textwrap
from urllib.parse import quote

import pytest

from reconciler.secrets import (
    MIN_SECRET_LENGTH,
    REDACTED,
    MissingSecret,
    Redactor,
    SecretStore,
    SecretTooShort,
)

SECRET = "s3cr3t/value+42?&"
RAW = SECRET.encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


PRINTED = {
    "as written": SECRET,
    "base64, padded": b64(RAW),
    "base64, unpadded": b64(RAW).rstrip("="),
    "base64url": b64url(RAW),
    "base64url, unpadded": b64url(RAW).rstrip("="),
    "hex": RAW.hex(),
    "HEX": RAW.hex().upper(),
    "url-encoded": quote(SECRET, safe=""),
    "url-encoded, lowercase escapes": quote(SECRET, safe="").lower(),
    "split over two lines": SECRET[:6] + "\n" + SECRET[6:],
    "split over CRLF lines": SECRET[:9] + "\r\n" + SECRET[9:],
    "base64 wrapped every 8 columns": "\n".join(textwrap.wrap(b64(RAW), 8)),
    "hex wrapped every 10 columns": "\n".join(textwrap.wrap(RAW.hex(), 10)),
}


@pytest.mark.parametrize("name", PRINTED)
def test_each_way_a_secret_is_printed_is_redacted(name: str) -> None:
    text = f"before {PRINTED[name]} after"
    redacted = Redactor([SECRET])(text)
    assert redacted == f"before {REDACTED} after"


@pytest.mark.parametrize("before", [b"", b"a", b"ab", b"abc", b"abcd"])
@pytest.mark.parametrize("after", [b"", b"\n", b"xy", b"xyz"])
@pytest.mark.parametrize("encode", [b64, b64url])
def test_a_secret_inside_a_longer_base64_stream_is_found_at_every_alignment(
    before: bytes, after: bytes, encode
) -> None:
    stream = encode(before + RAW + after)
    redacted = Redactor([SECRET])(stream)
    assert REDACTED in redacted
    left, right = redacted.split(REDACTED)
    assert len(left) + len(right) <= len(stream) - len(RAW), "the secret's own characters are gone"
    assert len(left) <= 3 + len(encode(before)), "at most the group shared with the bytes before"


def test_text_without_secrets_is_left_alone_and_a_line_break_alone_is_not_a_match() -> None:
    redact = Redactor([SECRET])
    text = "s3cr3t/\nnothing here\r\nvalue+42?& is only half of it\n"
    assert redact(text) == text


def test_a_secret_containing_another_is_replaced_whole() -> None:
    redact = Redactor(["abcdefgh", "abcdefgh-and-more"])
    assert redact("x abcdefgh-and-more y abcdefgh") == f"x {REDACTED} y {REDACTED}"


def test_the_window_covers_the_longest_form_broken_at_every_character() -> None:
    redact = Redactor([SECRET])
    broken = "\r\n".join(RAW.hex())
    assert len(broken) <= redact.window
    assert redact(broken) == REDACTED


def test_a_value_shorter_than_eight_characters_refuses_the_job_and_says_why() -> None:
    store = SecretStore({"SHORT": "abc1234", "LONG": "abcd1234"})
    assert store.resolve(["LONG"]) == {"LONG": "abcd1234"}
    with pytest.raises(SecretTooShort) as caught:
        store.resolve(["LONG", "SHORT"])
    assert "SHORT" in caught.value.message and "LONG" not in caught.value.message
    assert f"at least {MIN_SECRET_LENGTH} characters" in (caught.value.hint or "")
    assert "cannot be redacted" in caught.value.message
    assert caught.value.transient is False


def test_a_missing_secret_is_reported_before_a_short_one() -> None:
    with pytest.raises(MissingSecret):
        SecretStore({"SHORT": "abc"}).resolve(["SHORT", "ABSENT"])


def test_short_values_never_become_redaction_patterns() -> None:
    assert Redactor(["abc1234"])("abc1234 stays") == "abc1234 stays"
