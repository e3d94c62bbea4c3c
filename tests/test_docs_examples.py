"""The examples in docs/ are held to the code: names, routes, file shapes and snippets.

- every run error class the docs name (``error.class``) is one the code records, and every
  class the code records is in the table of docs/status-files.md;
- every condition reason the docs name is one ``status/conditions.py`` writes (or the name of
  an error class of ``reconciler/errors.py``, which is what an error reports as its reason);
- every ``METHOD /path`` in the docs is a route of the web app with that method, unless the
  line says it is not built yet; every route of the app is in docs/web.md;
- the status files and JSON answers shown are what the code writes, key for key (run files
  byte for byte);
- Python snippets compile, their imports exist and their calls fit the signatures;
- the ``oven`` command lines use commands and options that exist.

Manifest examples are checked in tests/manifests/test_docs.py.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient
from support.docblocks import DOCS, Block, all_docs, blocks

from reconciler import errors
from reconciler.api import create_api_app
from reconciler.hooks import create_hooks_app
from reconciler.manifests import parse_job
from reconciler.model import RunRecord, Schedule
from reconciler.schedule import describe
from reconciler.status import dump_yaml, job_summary, load_yaml, reconciler_status, render_run
from reconciler.status.view import Snapshot
from reconciler.web import queries
from reconciler.web.app import create_app

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"
NOT_BUILT = "not built yet"

# Keys the recorder adds to a job summary beyond ``job_summary`` (reconciler/status/changes.py).
SUMMARY_EXTRAS = {"description", "owner", "reason"}
# Keys the recorder adds to reconciler.yaml beyond ``reconciler_status`` (documented in prose).
RECONCILER_EXTRAS = {"instance", "warnings", "active_runs"}


def doc_text(doc: str) -> str:
    return (DOCS / doc).read_text(encoding="utf-8")


# -- error classes and condition reasons ------------------------------------------------------


def _python_trees() -> list[ast.Module]:
    return [ast.parse(path.read_text(encoding="utf-8")) for path in PACKAGE.rglob("*.py")]


def _cls_parameters(trees: list[ast.Module]) -> dict[str, int]:
    """Callables that take a run error class as a parameter named ``cls``: name -> position."""
    takes = {"ErrorInfo": 0}
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            names = [arg.arg for arg in node.args.args]
            decorators = {d.id for d in node.decorator_list if isinstance(d, ast.Name)}
            if names[:1] == ["self"] or "classmethod" in decorators:
                names = names[1:]
            if "cls" in names:
                takes[node.name] = names.index("cls")
    return takes


def run_error_classes() -> set[str]:
    """Every ``error.class`` the code can record: the literal class names it passes around."""
    trees = _python_trees()
    takes = _cls_parameters(trees)
    found: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in takes:
                continue
            values = node.args[takes[name] : takes[name] + 1]
            values += [kw.value for kw in node.keywords if kw.arg == "cls"]
            found |= {v.value for v in values if isinstance(v, ast.Constant)}
    return {value for value in found if isinstance(value, str)}


def documented_run_error_classes() -> dict[str, set[str]]:
    """doc -> the run error classes it names, in prose, tables, YAML and JSON examples."""
    patterns = [
        r"error class `(\w+)`",
        r"^\| `(\w+)` \| `(?:failed|timed_out|cancelled)` \|",
        r"^ *class: (\w+)",
        r'"class": "(\w+)"',
    ]
    return {
        doc: {name for p in patterns for name in re.findall(p, doc_text(doc), re.M)}
        for doc in all_docs()
    }


def error_class_table() -> set[str]:
    section = doc_text("status-files.md").split("### Run error classes", 1)[1]
    return set(re.findall(r"^\| `(\w+)` \|", section.split("\n## ", 1)[0], re.M))


def test_the_docs_name_run_error_classes() -> None:
    named = documented_run_error_classes()
    assert {"NonZeroExit", "Timeout", "ContainerVanished"} <= named["status-files.md"]


@pytest.mark.parametrize("doc", all_docs())
def test_every_run_error_class_in_the_docs_is_recorded_by_the_code(doc: str) -> None:
    unknown = documented_run_error_classes()[doc] - run_error_classes()
    assert not unknown, f"docs/{doc} names error classes the code never records: {unknown}"


def test_every_run_error_class_of_the_code_is_in_the_table() -> None:
    assert error_class_table() == run_error_classes()


def error_reasons() -> set[str]:
    """An error's reason is its class name (``OvenError.reason``)."""
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.OvenError)
    ]
    return {cls.reason for cls in classes}


def condition_vocabulary() -> set[str]:
    """Every literal in status/conditions.py: condition types and the reasons it writes."""
    tree = ast.parse((PACKAGE / "status" / "conditions.py").read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def conditions_table() -> str:
    text = doc_text("status-files.md")
    return re.search(r"^\| type \| True when \| reasons \|\n(?:\|.*\n)+", text, re.M).group(0)


def test_every_condition_reason_in_the_table_is_written_by_the_code() -> None:
    names = set(re.findall(r"`([A-Z]\w+)`", conditions_table()))
    unknown = names - condition_vocabulary() - error_reasons()
    assert not unknown, f"docs/status-files.md names reasons the code never writes: {unknown}"


# -- routes ----------------------------------------------------------------------------------


def app_routes() -> dict[str, set[str]]:
    """Path (parameters as ``{}``) -> methods of every route of the web app, the push webhook
    and the write API."""
    writes = create_api_app(Path("/nonexistent"), Snapshot)
    routes = [
        *create_app(Snapshot).routes,
        *create_hooks_app("secret-value", print).routes,
        *writes.routes,
    ]
    found: dict[str, set[str]] = {}
    for route in routes:
        if isinstance(route, Route):
            found.setdefault(re.sub(r"\{\w+\}", "{}", route.path), set()).update(
                route.methods or ()
            )
    return found


def documented_routes() -> list[tuple[str, int, str, str]]:
    """(doc, line, method, path) of every ``METHOD /path`` in the docs that exists today."""
    found = []
    for doc in all_docs():
        for number, line in enumerate(doc_text(doc).splitlines(), 1):
            if NOT_BUILT in line:
                continue
            for method, path in re.findall(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s`?)|]*)", line):
                found.append((doc, number, method, re.sub(r"\{\w+\}", "{}", path)))
    return found


def test_the_docs_name_routes() -> None:
    assert len(documented_routes()) > 10


@pytest.mark.parametrize(
    ("doc", "line", "method", "path"),
    documented_routes(),
    ids=[f"{doc}:{line}-{method}-{path}" for doc, line, method, path in documented_routes()],
)
def test_every_documented_route_exists_with_its_method(doc, line, method, path) -> None:
    where = f"docs/{doc}:{line}"
    matching = [
        (template, methods)
        for template, methods in app_routes().items()
        if re.fullmatch(re.escape(template).replace(r"\{\}", "[^/]+"), path)
    ]
    assert matching, f"{where}: no route {path}; if it is planned, say it is '{NOT_BUILT}'"
    template, methods = matching[0]
    assert method in methods, f"{where}: {template} answers {sorted(methods)}, not {method}"


def test_every_page_in_the_pages_table_is_a_get_route() -> None:
    table = doc_text("web.md").split("## Pages", 1)[1].split("\n\n", 2)[1]
    pages = [re.sub(r"\{\w+\}", "{}", p) for p in re.findall(r"^\| `(/[^`]*)` \|", table, re.M)]
    routes = app_routes()
    assert pages, "docs/web.md has a table of pages"
    for page in pages:
        assert "GET" in routes.get(page, set()), page


def test_every_route_of_the_app_is_documented_in_web_md() -> None:
    text = re.sub(r"\{\w+\}", "{}", doc_text("web.md"))
    missing = [path for path in app_routes() if f"`{path}`" not in text and f" {path}`" not in text]
    assert not missing, f"routes not in docs/web.md: {missing}"


def test_the_documented_run_filters_are_accepted() -> None:
    section = doc_text("web.md").split("### Filtering runs", 1)[1]
    query = re.search(r"`GET (/api/v1/runs\?[^`]+)`", section).group(1)
    names = re.findall(r"(\w+)=", query)
    values = {"job": "x", "status": "failed,succeeded", "since": "2026-03-01T00:00:00Z"}
    url = "/api/v1/runs?" + "&".join(f"{n}={values.get(n, '5')}" for n in names)

    with TestClient(create_app(Snapshot)) as client:
        answer = client.get(url)

    assert answer.status_code == 200, answer.text


# -- JSON answers (docs/web.md) ---------------------------------------------------------------


def example_job() -> Any:
    manifest = b"id: x\nname: X\ntype: docker\nimage: busybox\nschedule: {type: manual}\n"
    job, problems = parse_job("jobs/x.yaml", manifest)
    assert job is not None, problems
    return job


def summary_keys() -> set[str]:
    return set(job_summary(example_job(), "x", [])) | SUMMARY_EXTRAS


def last_run_keys() -> set[str]:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    run = RunRecord(
        run_id="x-1",
        job_id="x",
        trigger="manual",
        status="succeeded",
        started_at=now,
        finished_at=now + timedelta(seconds=1),
        exit_code=0,
    )
    return set(job_summary(example_job(), "x", [run])["last_run"])


def check_run(run: dict[str, Any], with_log: bool) -> None:
    written = RunRecord.from_dict(run).to_dict()
    if not with_log:
        written.pop("log_tail")
    assert written == run


def check_json_example(block: Block) -> None:
    data = json.loads(block.text)
    if "error" in data:  # the one error shape: the answer to an unreadable `since`
        with TestClient(create_app(Snapshot)) as client:
            answer = client.get("/api/v1/runs", params={"since": "yesterday"})
        assert answer.json() == data
    elif "runs" in data:
        assert data["count"] == len(data["runs"])
        for run in data["runs"]:
            check_run(run, with_log=False)
    elif "schedule" in data:  # one job: {"job_id": id, **summary}
        assert set(data) == summary_keys() | {"job_id"}
        assert set(data["last_run"]) == last_run_keys()
    elif "conditions" in data:
        assert set(data) == set(queries.health(Snapshot()))
    else:
        raise AssertionError(f"{block}: an example this test does not know how to check")


@pytest.mark.parametrize("block", blocks("web.md", "json"), ids=str)
def test_json_examples_have_the_shape_of_the_answers(block: Block) -> None:
    check_json_example(block)


# -- status files (docs/status-files.md) ------------------------------------------------------


def check_status_example(block: Block) -> None:
    data = load_yaml(block.text.encode())
    if "run_id" in data:
        assert render_run(RunRecord.from_dict(data)).decode() == block.text
        return
    assert dump_yaml(data).decode() == block.text, "keys sorted, block style, as written"
    if "runs_counted" in data:
        assert set(data) == summary_keys()
        assert set(data["last_run"]) == last_run_keys()
    elif "conditions" in data:
        written = reconciler_status(
            now=datetime(2026, 3, 1, tzinfo=UTC), applied_revision=None, attempted_revision=None
        )
        assert set(written) <= set(data) <= set(written) | RECONCILER_EXTRAS
        assert [c["type"] for c in data["conditions"]] == ["Ready", "Reconciling", "Stalled"]
        reasons = {c["reason"] for c in data["conditions"]}
        assert reasons <= condition_vocabulary() | error_reasons()
    else:
        raise AssertionError(f"{block}: an example this test does not know how to check")


@pytest.mark.parametrize("block", blocks("status-files.md", "yaml"), ids=str)
def test_status_file_examples_are_what_the_code_writes(block: Block) -> None:
    check_status_example(block)


SCHEDULES_IN_WORDS = [
    Schedule(type="cron", cron="0 2 * * *", timezone="America/Los_Angeles"),
    Schedule(type="interval", every=timedelta(minutes=5)),
    Schedule(type="once", at=datetime(2026, 12, 1, 9, tzinfo=UTC)),
    Schedule(type="manual"),
    Schedule(type="cron", cron="0 9-17 * * 1-5", timezone="UTC"),
]


def test_the_schedule_in_words_reads_as_documented() -> None:
    row = re.search(r"^\| `schedule` \|.*$", doc_text("status-files.md"), re.M).group(0)
    shown = [text for text in re.findall(r"`([^`]+)`", row)[1:] if text != "cron EXPRESSION"]
    assert shown == [describe(schedule) for schedule in SCHEDULES_IN_WORDS]


# -- Python snippets ---------------------------------------------------------------------------


def python_blocks() -> list[Block]:
    return [block for doc in all_docs() for block in blocks(doc, "python")]


def _imported(tree: ast.Module) -> dict[str, Any]:
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"
                names[alias.asname or alias.name] = getattr(module, alias.name)
    return names


@pytest.mark.parametrize("block", python_blocks(), ids=str)
def test_python_snippets_compile_import_and_call_what_exists(block: Block) -> None:
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = compile(block.text, str(block), "exec", flags=flags)
    imported = _imported(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            target = imported.get(node.func.id)
            if target is None or not callable(target):
                continue
            args = [None] * len(node.args)
            kwargs = {kw.arg: None for kw in node.keywords if kw.arg}
            inspect.signature(target).bind(*args, **kwargs)  # TypeError names the mismatch


# -- oven command lines ------------------------------------------------------------------------

MY_DOCS = ["getting-started.md", "manifests.md", "scheduling.md", "status-files.md", "web.md"]


def command_lines() -> list[tuple[str, str, tuple[str, ...]]]:
    """(doc, command, long options) of every ``oven <command> ...`` line in these docs."""
    found = []
    for doc in MY_DOCS:
        text = doc_text(doc).replace("\\\n", " ")
        for command, rest in re.findall(r"\boven ([a-z]+)((?: [^`\n]*)?)", text):
            found.append((doc, command, tuple(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest))))
    return found


def help_text(command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"oven {command} --help: {done.stderr}"
    return done.stdout


@pytest.mark.parametrize("command", sorted({command for _, command, _ in command_lines()}))
def test_documented_oven_commands_take_the_documented_options(command: str) -> None:
    shown = help_text(command)
    for doc, name, flags in command_lines():
        if name != command:
            continue
        unknown = [flag for flag in flags if flag not in shown]
        assert not unknown, f"docs/{doc}: `oven {command}` has no {unknown}"
