"""Text from manifests as people see it: quoted, shortened, and with control characters escaped.

A manifest's strings and keys reach terminals (``oven validate``), status files and pages.
A value with an escape sequence (``"\\x1b[2J"``) or a bidirectional override must show up as
what it is, never act on the terminal; and a 200 KiB value must not fill a screen. Problems
show values through ``show`` and field paths and file names through ``printable``.
"""

from __future__ import annotations

from typing import Any

SHOWN = 60  # characters of a value quoted in a message


def show(value: Any) -> str:
    """A value for a message: strings quoted with escapes (``repr``), cut to ``SHOWN``."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on escaped (``\\x1b``, ``\\u202e``).

    Surrogates (a file name that is not UTF-8, read with ``surrogateescape``) become ``\\udcXX``.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
