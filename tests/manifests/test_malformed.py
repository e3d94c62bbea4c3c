"""Malformed manifests: each yields exactly one ``FILE:LINE: FIELD: message`` line.

Every case is loaded next to a valid job, which must still load: one broken file never stops
the others. The line numbers are the line a person has to edit.
"""

from __future__ import annotations

import pytest

from reconciler.manifests import load_tree
from reconciler.manifests.safe_yaml import MAX_BYTES

from .conftest import ALLOWLIST, DOCKER_JOB, OVEN

HEAD = "id: broken-job\nname: Broken job\n"
DOCKER = HEAD + "type: docker\nimage: busybox\n"  # lines 1-4
MANUAL = "schedule: {type: manual}\n"


def docker(extra: str, schedule: str = MANUAL) -> str:
    """A docker job whose lines 1-5 are fixed, with ``extra`` from line 6 on."""
    return DOCKER + schedule + extra


def cron(expression: str, zone: str = "UTC") -> str:
    return f"schedule:\n  type: cron\n  cron: {expression!r}\n  timezone: {zone}\n"


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)

CASES: dict[str, tuple[str, str]] = {
    "yaml syntax: unclosed flow list": (
        docker("command: [sh, -c\nvolumes: []\n"),
        "6: (file): invalid YAML: while parsing a flow sequence: expected ',' or ']', but got ':'",
    ),
    "yaml syntax: bad indentation": (
        docker("policy:\n  concurrency: allow\n missed: skip\n"),
        "8: (file): invalid YAML: expected <block end>, but found '<block mapping start>'",
    ),
    "yaml syntax: unclosed quote": (
        docker("description: 'runs every night\nowner: me\n"),
        "6: (file): invalid YAML: while scanning a quoted scalar: found unexpected end of stream",
    ),
    "wrong type: boolean as string": (
        docker('enabled: "yes"\n'),
        "6: enabled: must be true or false, not the string 'yes'",
    ),
    "wrong type: list instead of mapping": (
        docker("policy: [forbid]\n"),
        "6: policy: must be a mapping, not a list",
    ),
    "unknown top-level field": (
        docker("timeout: 30\n"),
        "6: timeout: unknown field",
    ),
    "unknown nested field": (
        docker("policy:\n  concurency: allow\n"),
        "7: policy.concurency: unknown field (did you mean 'concurrency'?)",
    ),
    "missing required name": (
        "id: broken-job\ntype: docker\nimage: busybox\n" + MANUAL,
        "1: name: required field is missing",
    ),
    "bad id": (
        docker("", MANUAL).replace("id: broken-job", "id: Broken_Job"),
        "1: id: must be 1-63 lowercase letters, digits and hyphens, starting and ending with a "
        "letter or digit (got 'Broken_Job')",
    ),
    "bad cron": (
        docker("", cron("0 2 * *")),
        "7: schedule.cron: cron '0 2 * *' must have 5 fields (minute hour day-of-month month "
        "day-of-week); for seconds use an interval schedule (every: 30s); @hourly, @daily, "
        "@weekly, @monthly and @yearly are accepted",
    ),
    "impossible cron": (
        docker("", cron("0 0 30 2 *")),
        "7: schedule.cron: cron '0 0 30 2 *' never fires (no match within 9 years); check day of "
        "month against month, e.g. '0 0 30 2 *' asks for February 30",
    ),
    "unknown time zone": (
        docker("", cron("0 2 * * *", "Mars/Olympus_Mons")),
        "8: schedule.timezone: unknown time zone 'Mars/Olympus_Mons'; use an IANA name like UTC "
        "or Europe/Berlin",
    ),
    "once: not a calendar date": (
        docker("", "schedule:\n  type: once\n  at: 2026-02-30T09:00:00Z\n"),
        "7: schedule.at: must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00Z "
        "(got '2026-02-30T09:00:00Z')",
    ),
    "once: no offset": (
        docker("", "schedule:\n  type: once\n  at: '2026-12-01 09:00'\n"),
        "7: schedule.at: must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00Z "
        "(got '2026-12-01 09:00')",
    ),
    "interval: unparsable": (
        docker("", "schedule:\n  type: interval\n  every: 5 minutes\n"),
        "7: schedule.every: must be a whole number followed by s, m, h or d (e.g. 30s, 5m, 2h, "
        "1d) (got '5 minutes')",
    ),
    "interval: zero": (
        docker("", "schedule:\n  type: interval\n  every: 0s\n"),
        "7: schedule.every: interval '0s' is below one second; use at least 1s",
    ),
    "schedule: unknown type": (
        docker("", "schedule:\n  type: hourly\n"),
        "6: schedule.type: must be one of: cron, once, manual, webhook, interval (got 'hourly')",
    ),
    "schedule: unknown field in the chosen kind": (
        docker("", "schedule:\n  type: cron\n  cron: '0 2 * * *'\n  every: 5m\n"),
        "8: schedule.every: unknown field",
    ),
    "alias bomb": (
        docker(BOMB),
        "9: (file): document expands to more than 10000 values (alias bomb?); refusing to load it",
    ),
    "too deep nesting": (
        docker("description: " + "[" * 40 + "]" * 40 + "\n"),
        "6: (file): nested deeper than 32 levels",
    ),
    "python tag": (
        docker("description: !!python/object/apply:os.system ['touch /tmp/pwned']\n"),
        "6: description: tag !!python/object/apply:os.system is not allowed; only plain YAML data",
    ),
    "local tag": (
        docker("owner: !vault ops-team\n"),
        "6: owner: tag !vault is not allowed; only plain YAML data",
    ),
    "duplicate key": (
        docker("owner: ops\nowner: dev\n"),
        "7: owner: duplicate key 'owner' (first at line 6)",
    ),
    "volume outside the allow-list": (
        docker("volumes:\n  - /srv/oven/scripts:/scripts:ro\n  - /etc:/host-etc:ro\n"),
        "8: volumes[1]: host path '/etc' is outside the volume allow-list (/srv/oven)",
    ),
    "volume in a sibling of an allowed directory": (
        docker("volumes: ['/srv/oven-evil:/data']\n"),
        "6: volumes[0]: host path '/srv/oven-evil' is outside the volume allow-list (/srv/oven)",
    ),
    "volume escaping with ..": (
        docker("volumes: ['/srv/oven/../../etc:/etc']\n"),
        "6: volumes[0]: host path '/srv/oven/../../etc' must not contain '..'",
    ),
    "volume with a relative host path": (
        docker("volumes: ['./data:/data']\n"),
        "6: volumes[0]: './data' is neither an absolute host path nor a volume name",
    ),
    "volume with a bad mode": (
        docker("volumes: ['cache:/cache:rx']\n"),
        "6: volumes[0]: must be SOURCE:TARGET, SOURCE:TARGET:ro or SOURCE:TARGET:rw "
        "(got 'cache:/cache:rx')",
    ),
    "docker job without image": (
        HEAD + "type: docker\n" + MANUAL,
        "1: image: required for docker jobs",
    ),
    "agent-pipeline job without pipeline": (
        HEAD + "type: agent-pipeline\nsource: {repo: 'https://example.com/app.git'}\n" + MANUAL,
        "1: pipeline: required for agent-pipeline jobs",
    ),
    "agent-pipeline field in a docker job": (
        docker("pipeline: post-commit\n"),
        "6: pipeline: not allowed in docker jobs",
    ),
    "bad memory": (
        docker("resources:\n  memory: 2 gigs\n"),
        "7: resources.memory: must be a size like 512m or 2g (got '2 gigs')",
    ),
    "memory below the engine minimum": (
        docker("resources: {memory: 1m}\n"),
        "6: resources.memory: must be at least 6m, Docker's minimum (got '1m')",
    ),
    "negative timeout": (
        docker("resources:\n  timeout: -5\n"),
        "7: resources.timeout: must be at least 1 (got -5)",
    ),
    "retries above the limit": (
        docker("retries: {limit: 11}\n"),
        "6: retries.limit: must be at most 10 (got 11)",
    ),
    "env with a non-string value": (
        docker("env:\n  BACKUP_PATH: /data\n  PORT: 8080\n"),
        "8: env.PORT: must be a string, not the number 8080; put it in quotes",
    ),
    "env with a lowercase name": (
        docker("env:\n  backup_path: /data\n"),
        "7: env.backup_path: must be uppercase letters, digits and underscores, not starting "
        "with a digit",
    ),
    "name both in env and secrets": (
        docker("env: {GITHUB_TOKEN: abc}\nsecrets: [GITHUB_TOKEN]\n"),
        "6: env.GITHUB_TOKEN: also listed in secrets; a name is a plain value or a secret",
    ),
    "command list with a number": (
        docker("command:\n  - sleep\n  - 10\n"),
        "8: command[1]: must be a string, not the number 10; put it in quotes",
    ),
    "unknown notification target": (
        docker("notifications:\n  targets: [team-slack, pager]\n"),
        "7: notifications.targets[1]: unknown notification target 'pager'; define it under "
        "notifications.targets in oven.yaml",
    ),
    "non-mapping document": (
        "- id: broken-job\n- name: Broken job\n",
        "1: (file): expected a mapping of fields, found a list",
    ),
    "empty file": (
        "# TODO: write this job\n",
        "1: (file): file is empty; expected a mapping of fields",
    ),
    "multiple documents": (
        docker("---\nid: second-job\n"),
        "6: (file): more than one YAML document ('---'); put one job per file",
    ),
    "not UTF-8": (
        docker("owner: caf\xe9\n").encode("latin-1").decode("utf-8", "surrogateescape"),
        "6: (file): file is not valid UTF-8 text",
    ),
    # --- bounds: every later computation stays in range (docs/manifests.md, "Bounds")
    "interval beyond datetime (issue 6)": (
        docker("", "schedule: {type: interval, every: 99999999999d}\n"),
        "5: schedule.every: interval '99999999999d' is longer than 366 days; for rarer runs use "
        "a cron schedule (e.g. '0 0 1 1 *') or a once schedule",
    ),
    "interval whose fires leave datetime (issue 6)": (
        docker("", "schedule: {type: interval, every: 1830358181m}\n"),
        "5: schedule.every: interval '1830358181m' is longer than 366 days; for rarer runs use "
        "a cron schedule (e.g. '0 0 1 1 *') or a once schedule",
    ),
    "interval one second over the bound": (
        docker("", "schedule: {type: interval, every: 31622401s}\n"),
        "5: schedule.every: interval '31622401s' is longer than 366 days; for rarer runs use "
        "a cron schedule (e.g. '0 0 1 1 *') or a once schedule",
    ),
    "interval of 5000 digits": (
        docker("", "schedule: {type: interval, every: " + "9" * 5000 + "s}\n"),
        "5: schedule.every: interval '" + "9" * 37 + "...' is longer than 366 days; for rarer "
        "runs use a cron schedule (e.g. '0 0 1 1 *') or a once schedule",
    ),
    "once past year 9999 in UTC (issue 6)": (
        docker("", 'schedule: {type: once, at: "9999-12-31T23:59:59-14:00"}\n'),
        "5: schedule.at: must be between 1970-01-01T00:00:00Z and 2199-12-31T23:59:59Z "
        "(got '9999-12-31T23:59:59-14:00')",
    ),
    "once before 1970": (
        docker("", "schedule: {type: once, at: '1969-12-31T23:59:59Z'}\n"),
        "5: schedule.at: must be between 1970-01-01T00:00:00Z and 2199-12-31T23:59:59Z "
        "(got '1969-12-31T23:59:59Z')",
    ),
    "startingDeadline beyond timedelta (issue 6)": (
        docker(
            "policy: {startingDeadline: 258053483022575}\n",
            "schedule: {type: interval, every: 20s}\n",
        ),
        "6: policy.startingDeadline: must be at most 31622400 (got 258053483022575)",
    ),
    "memory beyond the engine's int64": (
        docker("resources: {memory: 99999999999999g}\n"),
        "6: resources.memory: must be at most 1024g (got '99999999999999g')",
    ),
    "memory written with 400 digits": (
        docker("resources: {memory: " + "9" * 400 + "g}\n"),
        "6: resources.memory: must be at most 32 characters (got '" + "9" * 56 + "...)",
    ),
    "cpus below the engine's minimum": (
        docker("resources: {cpus: 0.001}\n"),
        "6: resources.cpus: must be at least 0.01 (got 0.001)",
    ),
    "integer of 5000 digits": (
        docker("retries: {limit: " + "9" * 5000 + "}\n"),
        "6: retries.limit: number has too many digits",
    ),
    "time zone that is a folder of zones": (
        docker("", cron("0 2 * * *", "America")),
        "8: schedule.timezone: unknown time zone 'America'; use an IANA name like UTC or "
        "Europe/Berlin",
    ),
    # --- values the engine refuses
    "NUL in an env value": (
        docker('env: {GREETING: "hi\\0there"}\n'),
        "6: env.GREETING: must not contain a NUL character (got 'hi\\x00there')",
    ),
    "NUL in a command argument": (
        docker('command: [echo, "a\\0b"]\n'),
        "6: command[1]: must not contain a NUL character (got 'a\\x00b')",
    ),
    "mount over the container's root": (
        docker("volumes: ['cache:/']\n"),
        "6: volumes[0]: container path '/' cannot be mounted over; the engine refuses it",
    ),
    "mount over /proc, written oddly": (
        docker("volumes: ['cache://proc/']\n"),
        "6: volumes[0]: container path '//proc/' cannot be mounted over; the engine refuses it",
    ),
    "mount inside /proc": (
        docker("volumes: ['cache:/proc/sys']\n"),
        "6: volumes[0]: container path '/proc/sys' cannot be mounted over; the engine refuses it",
    ),
    "mount over /dev": (
        docker("volumes: ['/srv/oven/dev:/dev']\n"),
        "6: volumes[0]: container path '/dev' cannot be mounted over; the engine refuses it",
    ),
    "named volume over /etc/hosts": (
        docker("volumes: ['cache:/etc/hosts']\n"),
        "6: volumes[0]: container path '/etc/hosts' is a file the engine writes; a named volume "
        "(a directory) cannot be mounted over it",
    ),
    "two mounts on one container path": (
        docker("volumes: ['cache:/data', '/srv/oven/data:/data/']\n"),
        "6: volumes[1]: container path '/data' is already mounted by volumes[0]",
    ),
    "image the engine cannot parse": (
        docker("", MANUAL).replace("image: busybox", "image: Agent-Oven/Busybox"),
        "4: image: must be an image reference like busybox:1.36 or registry.example.com/tools:1.2 "
        "(the path in lowercase, no spaces) (got 'Agent-Oven/Busybox')",
    ),
    # --- text shown to people
    "id with a trailing newline": (
        docker("", MANUAL).replace("id: broken-job", 'id: "broken-job\\n"'),
        "1: id: must be 1-63 lowercase letters, digits and hyphens, starting and ending with a "
        "letter or digit (got 'broken-job\\n')",
    ),
    "escape sequence in the name": (
        docker("", MANUAL).replace("name: Broken job", 'name: "\\e[2J\\e[31mBroken"'),
        "2: name: must be one line without control characters (got '\\x1b[2J\\x1b[31mBroken')",
    ),
    "bidirectional override in the owner": (
        docker('owner: "ops \\u202Egnp.exe"\n'),
        "6: owner: must be one line without control characters (got 'ops \\u202egnp.exe')",
    ),
    "control character in the description": (
        docker('description: "line one\\nline two\\a"\n'),
        "6: description: must not contain control characters other than tabs and newlines "
        "(got 'line one\\nline two\\x07')",
    ),
    "newline in a cron expression": (
        docker("", 'schedule: {type: cron, cron: "0 2 * * *\\n"}\n'),
        "5: schedule.cron: must be one line without control characters (got '0 2 * * *\\n')",
    ),
    "escape sequence in an unknown field's name": (
        docker('"\\e[2J": 1\n'),
        "6: \\x1b[2J: unknown field",
    ),
}


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_malformed_manifest_yields_one_problem_at_its_line(case: str) -> None:
    text, expected = CASES[case]
    files = {
        "oven.yaml": OVEN.encode(),
        "jobs/good.yaml": DOCKER_JOB.encode(),
        "jobs/broken.yaml": _bytes(text),
    }
    state = load_tree(files, "rev", ALLOWLIST)
    assert [str(problem) for problem in state.problems] == [f"jobs/broken.yaml:{expected}"]
    assert list(state.jobs) == ["backup-db"], "the valid job next to the broken one still loads"


def test_oversized_file_is_refused_before_parsing() -> None:
    text = DOCKER + MANUAL + "description: " + "x" * MAX_BYTES + "\n"
    state = load_tree({"jobs/big.yaml": text.encode()}, "rev")
    assert [str(p) for p in state.problems] == [
        "jobs/big.yaml:1: (file): file is larger than the 256 KiB limit"
    ]
    assert state.jobs == {}


def test_duplicate_ids_are_reported_on_every_claimant_and_none_loads() -> None:
    first = DOCKER_JOB
    second = "# the same id again\n" + DOCKER_JOB.replace("Database backup", "Second backup")
    files = {"jobs/a.yaml": first.encode(), "jobs/b.yaml": second.encode()}
    state = load_tree(files, "rev")
    assert [str(p) for p in state.problems] == [
        "jobs/a.yaml:1: id: duplicate id 'backup-db', also in jobs/b.yaml; "
        "none of these files is applied until the id is unique",
        "jobs/b.yaml:2: id: duplicate id 'backup-db', also in jobs/a.yaml; "
        "none of these files is applied until the id is unique",
    ]
    assert state.jobs == {}


def test_broken_oven_yaml_is_reported_and_jobs_load_without_defaults() -> None:
    oven = "defaults:\n  retries: {limit: 2}\n  resources: {timeout: never}\n"
    state = load_tree({"oven.yaml": oven.encode(), "jobs/a.yaml": DOCKER_JOB.encode()}, "rev")
    assert [str(p) for p in state.problems] == [
        "oven.yaml:3: defaults.resources.timeout: must be a whole number, not the string 'never'"
    ]
    job = state.jobs["backup-db"]
    assert job.retries.limit == 0 and job.resources.timeout is None


def test_oven_yaml_with_an_unknown_time_zone_default() -> None:
    oven = "defaults:\n  schedule:\n    timezone: Atlantis/Capital\n"
    state = load_tree({"oven.yaml": oven.encode(), "jobs/a.yaml": DOCKER_JOB.encode()}, "rev")
    assert [str(p) for p in state.problems] == [
        "oven.yaml:3: defaults.schedule.timezone: unknown time zone 'Atlantis/Capital'; "
        "use an IANA name like UTC or Europe/Berlin"
    ]
    assert state.jobs["backup-db"].schedule.timezone == "UTC"


def test_several_mistakes_in_one_file_are_each_reported_in_line_order() -> None:
    text = docker("policy: {concurrency: sometimes}\nretries: {limit: -1}\nextra: 1\n")
    state = load_tree({"jobs/broken.yaml": text.encode()}, "rev")
    assert [str(p) for p in state.problems] == [
        "jobs/broken.yaml:6: policy.concurrency: must be one of: allow, forbid, replace "
        "(got 'sometimes')",
        "jobs/broken.yaml:7: retries.limit: must be at least 0 (got -1)",
        "jobs/broken.yaml:8: extra: unknown field",
    ]
