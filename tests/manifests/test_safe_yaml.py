"""Unit tests of the safe loader: plain data only, limits hold, every key has its line."""

from __future__ import annotations

import time

import pytest

from reconciler.manifests.safe_yaml import (
    MAX_DEPTH,
    MAX_NODES,
    YamlProblem,
    dotted,
    load_document,
)


def test_line_map_covers_every_key_and_list_item() -> None:
    doc = load_document(b"# header\nid: x\nschedule:\n  type: cron\nvolumes:\n  - a:/a\n  - b:/b\n")
    assert doc.lines == {
        (): 2,
        ("id",): 2,
        ("schedule",): 3,
        ("schedule", "type"): 4,
        ("volumes",): 5,
        ("volumes", 0): 6,
        ("volumes", 1): 7,
    }
    assert doc.line_of(("schedule", "cron")) == 3, "a missing field points at its parent"


def test_plain_scalars_keep_yaml_types_but_times_stay_strings() -> None:
    doc = load_document(b"a: 1\nb: 1.5\nc: true\nd: null\ne: 2026-12-01\nf: '7'\n")
    assert doc.data == {"a": 1, "b": 1.5, "c": True, "d": None, "e": "2026-12-01", "f": "7"}


def test_keys_are_always_strings_as_written() -> None:
    assert load_document(b"on: 1\n12: 2\nnull: 3\n").data == {"on": 1, "12": 2, "null": 3}


def test_aliases_within_limits_are_expanded() -> None:
    doc = load_document(b"base: &env {A: '1'}\ncopy: *env\n")
    assert doc.data == {"base": {"A": "1"}, "copy": {"A": "1"}}


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a: &a [" + ", ".join(["lol"] * 10) + "]"]
    lines += [
        f"{n}: &{n} [" + ", ".join([f"*{p}"] * 10) + "]"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    started = time.perf_counter()
    with pytest.raises(YamlProblem, match=f"more than {MAX_NODES} values"):
        load_document("\n".join(lines).encode())
    assert time.perf_counter() - started < 2, "a billion laughs must not be expanded"


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(YamlProblem, match="deeper than"):
        load_document(b"a: &a [*a]\n")


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    depth = 100_000
    with pytest.raises(YamlProblem) as caught:
        load_document(b"a: " + b"[" * depth + b"]" * depth)
    assert caught.value.message == f"nested deeper than {MAX_DEPTH} levels"


def test_nesting_up_to_the_limit_is_fine() -> None:
    text = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert load_document(text.encode()).data["a"] is not None


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/name:os.system ''",
        "a: !!binary aGVsbG8=",
        "a: !!set {x, y}",
        "a: !!timestamp 2026-01-01",
        "!!omap [a: 1]",
    ],
)
def test_non_plain_tags_are_refused(text: str) -> None:
    with pytest.raises(YamlProblem, match="is not allowed"):
        load_document(text.encode())


def test_merge_keys_and_non_finite_numbers_are_refused() -> None:
    with pytest.raises(YamlProblem, match="merge keys"):
        load_document(b"a: &a {x: 1}\nb:\n  <<: *a\n")
    with pytest.raises(YamlProblem, match="not a finite number"):
        load_document(b"cpus: .nan\n")


def test_bom_and_control_characters() -> None:
    assert load_document(b"\xef\xbb\xbfa: 1\n").data == {"a": 1}
    with pytest.raises(YamlProblem) as caught:
        load_document(b"a: 1\nb: \x07\n")
    assert (caught.value.line, caught.value.message) == (2, "invalid character '\\x07'")


def test_dotted_paths() -> None:
    assert dotted(("schedule", "cron")) == "schedule.cron"
    assert dotted(("volumes", 2)) == "volumes[2]"
    assert dotted(("notifications", "targets", 0)) == "notifications.targets[0]"
    assert dotted(()) == "(file)"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: 1\nb\nc: 2\n", 2, "while scanning a simple key: could not find expected ':'"),
        (
            'a: 1\nb: "x\nc: 2\n',
            2,
            "while scanning a quoted scalar: found unexpected end of stream",
        ),
        (
            "a: 1\nb: {x: 1\nc: 2\n",
            2,
            "while parsing a flow mapping: expected ',' or '}', but got ':'",
        ),
        ("a: 1\n- x\n", 2, "expected <block end>, but found '-'"),
        ("a: *nope\n", 1, "found undefined alias 'nope'"),
        ("a: &x 1\nb: &x 2\n", 2, "found duplicate anchor 'x' (first at line 1)"),
        ("a:\n\t- x\n", 2, "found character '\\t' that cannot start any token"),
    ],
)
def test_syntax_errors_point_at_the_line_to_fix(text: str, line: int, message: str) -> None:
    with pytest.raises(YamlProblem) as caught:
        load_document(text.encode())
    assert (caught.value.line, caught.value.field) == (line, "(file)")
    assert caught.value.message == f"invalid YAML: {message}"
