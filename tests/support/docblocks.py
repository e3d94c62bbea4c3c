"""The fenced code blocks of the docs, for tests that hold the docs' examples to the code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"

_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.M | re.S)


@dataclass(frozen=True)
class Block:
    doc: str  # file name under docs/
    line: int  # line of the opening fence
    lang: str  # "yaml", "json", "python", "sh", "text" or ""
    text: str  # the content, indentation of the fence removed

    def __str__(self) -> str:
        return f"docs/{self.doc}:{self.line}"


def blocks(doc: str, lang: str | None = None) -> list[Block]:
    """The fenced blocks of ``docs/<doc>`` in order, optionally only those of one language."""
    source = (DOCS / doc).read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(source):
        indent = len(match.group(1))
        text = "".join(line[indent:] for line in match.group(3).splitlines(keepends=True))
        line = source.count("\n", 0, match.start()) + 1
        found.append(Block(doc, line, match.group(2), text))
    return [b for b in found if lang is None or b.lang == lang]


def all_docs() -> list[str]:
    return sorted(path.name for path in DOCS.glob("*.md"))
