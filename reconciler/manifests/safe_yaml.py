"""Load one YAML document safely, remembering the line of every value.

Manifests come from a git repository anyone with push access can write to, so loading them
must be boring: only plain data (strings, numbers, booleans, null, mappings, lists) — no
``!!python/...`` or any other explicit tag beyond those — and hard limits on file size,
nesting depth and alias expansion (the "billion laughs" bomb). We compose nodes with PyYAML's
SafeLoader and build Python values ourselves, so we can count every node we visit and keep a
``path -> line`` map that lets a validation error point at the line of the failing field.

Nodes are composed by libyaml (``yaml.CSafeLoader``, about ten times faster) when PyYAML has
it and the text has no character PyYAML's reader refuses; the values, the limits, the
duplicate-key check and the line map are ours either way, built from the nodes. Whenever the
fast path finds anything wrong, the document is loaded again the pure-Python way, so every
problem and its line are exactly the ones that path reports.

Every failure is raised as ``YamlProblem`` (line, field, message); nothing from PyYAML leaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.manifests.text import printable

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_NODES = 10_000
MAX_INT_BITS = 4000  # about 1200 decimal digits; far beyond every bound, still printable
FILE_FIELD = "(file)"

Path = tuple[str | int, ...]
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null"))
_CONSTRUCTOR = SafeConstructor()


@dataclass(frozen=True)
class YamlProblem(Exception):
    """Why a document was refused; ``line`` is 1-based."""

    line: int
    field: str
    message: str


@dataclass(frozen=True)
class Document:
    """A loaded document: plain Python data and the 1-based line of each path in it."""

    data: Any
    lines: dict[Path, int]

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor that is in the file."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)


class _DepthExceeded(yaml.MarkedYAMLError):
    pass


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps times as strings and refuses deep nesting while composing."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _TAG + "timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _DepthExceeded(
                    problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_CLoader: type[Any] | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(yaml.CSafeLoader):  # type: ignore[no-redef]
        """libyaml's composer with our resolvers (times stay strings); libyaml itself refuses
        nesting deeper than 1000 levels, so its recursion stays bounded."""

        yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def load_document(data: bytes) -> Document:
    """Parse one YAML document from ``data``; raise ``YamlProblem`` if it cannot be used."""
    if len(data) > MAX_BYTES:
        raise YamlProblem(1, FILE_FIELD, f"file is larger than the {MAX_BYTES // 1024} KiB limit")
    text = _decode(data)
    fast = _fast_document(text)
    if fast is not None:
        return fast
    node = _compose_single(text)
    if node is None or (isinstance(node, ScalarNode) and node.tag == _TAG + "null"):
        raise YamlProblem(1, FILE_FIELD, "file is empty; expected a mapping of fields")
    return _Builder().build(node)


def _fast_document(text: str) -> Document | None:
    """The document composed by libyaml, or None when the pure path must decide."""
    if _CLoader is None or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return None
    try:
        loader = _CLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is None or (isinstance(node, ScalarNode) and node.tag == _TAG + "null"):
            return None
        return _Builder().build(node)
    except Exception:  # a syntax error, a limit, two documents: let the pure path say it
        return None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlProblem(line, FILE_FIELD, "file is not valid UTF-8 text") from exc


def _compose_single(text: str) -> Node | None:
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise YamlProblem(line, FILE_FIELD, f"invalid character {chr(exc.character)!r}") from exc
    try:
        if not loader.check_node():
            return None
        node: Node | None = loader.get_node()
        if loader.check_node():
            line = loader.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
            raise YamlProblem(
                line, FILE_FIELD, "more than one YAML document ('---'); put one job per file"
            )
        return node
    except yaml.MarkedYAMLError as exc:
        raise _syntax_problem(exc) from exc
    finally:
        loader.dispose()


_CONTEXT_FIRST = (
    "while scanning a quoted scalar",
    "while parsing a flow",
    "while scanning a simple key",
)


def _syntax_problem(exc: yaml.MarkedYAMLError) -> YamlProblem:
    """Point at the line a person would fix: where an unclosed quote or bracket started."""
    if isinstance(exc, _DepthExceeded):
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return YamlProblem(line, FILE_FIELD, str(exc.problem))
    context = exc.context or ""
    use_context = exc.context_mark is not None and context.startswith(_CONTEXT_FIRST)
    mark = exc.context_mark if use_context else exc.problem_mark
    line = mark.line + 1 if mark is not None else 1
    problem = exc.problem or "cannot be parsed"
    if problem == "second occurrence" and exc.context_mark is not None:  # duplicate anchor
        first = exc.context_mark.line + 1
        problem = f"{context.split(';')[0]} (first at line {first})"
    elif use_context:
        problem = f"{context}: {problem}"
    return YamlProblem(line, FILE_FIELD, f"invalid YAML: {problem}")


class _Builder:
    """Turns composed nodes into plain data, counting every node visit (aliases included)."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self.visits = 0

    def build(self, root: Node) -> Document:
        self.lines[()] = root.start_mark.line + 1
        return Document(self._value(root, (), 1), self.lines)

    def _value(self, node: Node, path: Path, depth: int) -> Any:
        self.visits += 1
        if self.visits > MAX_NODES:
            raise YamlProblem(
                self._top_line(path),
                FILE_FIELD,
                f"document expands to more than {MAX_NODES} values "
                "(alias bomb?); refusing to load it",
            )
        if depth > MAX_DEPTH:
            raise YamlProblem(
                node.start_mark.line + 1,
                FILE_FIELD,
                f"nested deeper than {MAX_DEPTH} levels (through aliases)",
            )
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return self._sequence(node, path, depth)
        assert isinstance(node, ScalarNode)
        return self._scalar(node, path)

    def _top_line(self, path: Path) -> int:
        return self.lines.get(path[:1], self.lines[()])

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        self._check_tag(node, _TAG + "map", path)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            child = (*path, key)
            if key in result:
                raise YamlProblem(
                    key_node.start_mark.line + 1,
                    dotted(child),
                    f"duplicate key '{printable(key)}' (first at line {self.lines[child]})",
                )
            self.lines[child] = key_node.start_mark.line + 1
            result[key] = self._value(value_node, child, depth + 1)
        return result

    def _key(self, node: Node, path: Path) -> str:
        line = node.start_mark.line + 1
        if not isinstance(node, ScalarNode):
            raise YamlProblem(line, dotted(path), "mapping keys must be plain strings")
        if node.tag == _TAG + "merge":
            raise YamlProblem(line, dotted(path), "merge keys ('<<') are not supported")
        self._check_scalar_tag(node, path)
        return str(node.value)

    def _sequence(self, node: SequenceNode, path: Path, depth: int) -> list[Any]:
        self._check_tag(node, _TAG + "seq", path)
        items = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            self.lines[child] = item.start_mark.line + 1
            items.append(self._value(item, child, depth + 1))
        return items

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        self._check_scalar_tag(node, path)
        try:
            value = _CONSTRUCTOR.construct_object(node)
        except ValueError:  # an int of more digits than Python converts (4300)
            value = None
        if (value is None and node.tag == _TAG + "int") or _too_big(value):
            raise YamlProblem(node.start_mark.line + 1, dotted(path), "number has too many digits")
        if isinstance(value, float) and not math.isfinite(value):
            raise YamlProblem(
                node.start_mark.line + 1, dotted(path), f"{node.value!r} is not a finite number"
            )
        return value

    def _check_scalar_tag(self, node: Node, path: Path) -> None:
        self._check_tag(node, node.tag if node.tag in _SCALAR_TAGS else "", path)

    def _check_tag(self, node: Node, allowed: str, path: Path) -> None:
        if node.tag != allowed:
            raise YamlProblem(
                node.start_mark.line + 1,
                dotted(path),
                f"tag {_short_tag(node.tag)} is not allowed; only plain YAML data",
            )


def _too_big(value: Any) -> bool:
    """An int too long to print (Python refuses str() of 4300+ digits); 0x and 0b read it."""
    return isinstance(value, int) and value.bit_length() > MAX_INT_BITS


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def dotted(path: Path) -> str:
    """``('schedule', 'cron')`` -> ``schedule.cron``; ``('volumes', 1)`` -> ``volumes[1]``.

    Keys are shown with control characters escaped (``text.printable``)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{printable(part)}" if text else printable(part)
    return text or FILE_FIELD
