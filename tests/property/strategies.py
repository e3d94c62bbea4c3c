"""Hypothesis strategies for manifests: valid ones built from the schema, edge values, noise.

``manifests(mode)`` draws a job manifest as a mapping: ``valid`` stays inside every bound (and
so must load without a problem), ``edge`` sits exactly on the bounds (also valid), ``chaos``
puts anything in any field. ``yaml_noise`` draws raw text: a valid manifest with one line
mangled, or characters from YAML's own alphabet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from hypothesis import strategies as st

from reconciler.manifests.bounds import EARLIEST, LATEST

ALLOWED = "/srv/oven"
TARGETS = ("team-slack", "ops-hook")
ZONES = sorted(available_timezones())
BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029}

# ----------------------------------------------------------------- text

_line_chars = st.characters(
    blacklist_categories=("Cc", "Cs"), blacklist_characters=[chr(c) for c in BIDI]
)
ODD = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
NAMES = st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,15}\Z")


@cache
def line(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[str]:
    return st.text(_line_chars, min_size=min_size, max_size=max_size)


@cache
def anything() -> st.SearchStrategy[Any]:
    """Any YAML value: odd text, extreme numbers, booleans, null, small lists and mappings."""
    scalars = st.one_of(
        ODD,
        st.integers(min_value=-(2**80), max_value=2**80),
        st.sampled_from([0, -1, 2**31, 2**63, 2**64, 10**18, 99999999999999]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ODD, inner, max_size=3),
        max_leaves=6,
    )


@cache
def pick(mode: str, valid: st.SearchStrategy[Any], edge: st.SearchStrategy[Any] | None = None):
    """The strategy for one field in ``mode``; chaos still draws a valid value now and then."""
    if mode == "edge" and edge is not None:
        return edge
    if mode == "chaos":
        return st.one_of(valid, anything())
    return valid


# ----------------------------------------------------------------- times

_NOW_MIN = EARLIEST.replace(tzinfo=None)
_NOW_MAX = LATEST.replace(tzinfo=None)
DST_DAYS = [
    datetime(2026, 3, 8, 2, 30),
    datetime(2026, 3, 29, 1, 30),
    datetime(2026, 10, 25, 1, 30),
    datetime(2026, 11, 1, 1, 30),
    datetime(2027, 4, 4, 2, 30),
    datetime(2199, 10, 27, 2, 30),
]


@cache
def instants(low: datetime = _NOW_MIN, high: datetime = _NOW_MAX) -> st.SearchStrategy[datetime]:
    """Aware UTC times in [low, high], often near a daylight saving change or the bounds."""
    near = st.builds(
        lambda day, seconds: day + timedelta(seconds=seconds),
        st.sampled_from(DST_DAYS),
        st.integers(-7200, 7200),
    ).filter(lambda t: low <= t <= high)
    plain = st.datetimes(min_value=low, max_value=high)
    return st.one_of(plain, near, st.sampled_from([low, high])).map(lambda t: t.replace(tzinfo=UTC))


def rfc3339(when: datetime, minutes: int, style: int) -> str:
    """``when`` (aware) written at the UTC offset ``minutes`` in one of a few RFC 3339 styles."""
    local = when.astimezone(timezone(timedelta(minutes=minutes)))
    text = local.isoformat(timespec="microseconds" if style == 2 else "seconds")
    if minutes == 0 and style != 1:
        text = text.replace("+00:00", "Z" if style == 0 else "z")
    return text.replace("T", "t") if style == 3 else text


@cache
def at_times(mode: str) -> st.SearchStrategy[str]:
    inside = st.builds(
        rfc3339,
        instants(),
        st.integers(-14 * 60 + 1, 14 * 60 - 1),
        st.integers(0, 3),
    )
    edge = st.sampled_from(
        ["1970-01-01T00:00:00Z", "2199-12-31T23:59:59Z", "2200-01-01T09:59:59+10:00"]
    )
    beyond = st.sampled_from(
        [
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
            "1969-12-31T23:59:59Z",
            "2200-01-01T00:00:00Z",
            "2026-02-30T09:00:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T09:00:60Z",
            "2026-12-01T09:00:00+24:00",
            "2026-12-01T09:00:00.1234567890123Z",
        ]
    )
    return pick(mode, inside, edge) if mode != "chaos" else st.one_of(inside, beyond, anything())


# ----------------------------------------------------------------- schedules


def _cron_field(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high).map(str)
    step = st.integers(1, high - low + 1).map(lambda n: f"*/{n}")
    span = st.tuples(st.integers(low, high), st.integers(low, high)).map(
        lambda ab: f"{min(ab)}-{max(ab)}"
    )
    listed = st.lists(st.integers(low, high), min_size=1, max_size=3, unique=True).map(
        lambda xs: ",".join(map(str, xs))
    )
    return st.one_of(st.just("*"), number, step, span, listed)


CRON_VALID = st.one_of(
    st.tuples(
        _cron_field(0, 59),
        _cron_field(0, 23),
        st.one_of(st.just("*"), _cron_field(1, 28)),
        st.one_of(st.just("*"), _cron_field(1, 12)),
        st.one_of(st.just("*"), _cron_field(0, 6), st.sampled_from(["MON-FRI", "sun", "1-5"])),
    ).map(" ".join),
    st.sampled_from(["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "0 0 29 2 *"]),
)
CRON_NOISE = st.one_of(
    st.lists(
        st.sampled_from(
            [
                "*",
                "*/0",
                "60",
                "-1",
                "L",
                "?",
                "1-",
                "99999999999999999999",
                "5/",
                "W",
                "#",
                "31",
                "30",
                "2",
                "FEB",
                "*/1",
                "0-59/61",
                ",",
                "1,,2",
                "7",
                "8",
                "2147483648",
            ]
        ),
        min_size=1,
        max_size=7,
    ).map(" ".join),
    ODD,
)


@cache
def schedules(mode: str) -> st.SearchStrategy[dict[str, Any]]:
    zone = st.one_of(st.sampled_from(ZONES), st.sampled_from(["UTC", "Europe/Berlin"]))
    if mode == "chaos":
        zone = st.one_of(
            zone, st.sampled_from(["America", "a" * 300, "", "../etc", "Etc/../UTC"]), ODD
        )
    cron = st.fixed_dictionaries(
        {
            "type": st.just("cron"),
            "cron": CRON_VALID if mode != "chaos" else st.one_of(CRON_VALID, CRON_NOISE),
        },
        optional={"timezone": zone},
    )
    once = st.fixed_dictionaries({"type": st.just("once"), "at": at_times(mode)})
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    every_valid = st.sampled_from(list(units)).flatmap(
        lambda u: st.integers(1, 366 * 86_400 // units[u]).map(lambda n: f"{n}{u}")
    )
    every_edge = st.sampled_from(["1s", "366d", "8784h", "527040m", "31622400s", "0001s"])
    every_chaos = st.one_of(
        every_valid,
        st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**20), st.sampled_from("smhdSMHDx")),
        st.sampled_from(
            ["99999999999d", "1830358181m", "367d", "31622401s", "9" * 5000 + "s", "0s"]
        ),
        anything(),
    )
    every = {"valid": every_valid, "edge": every_edge, "chaos": every_chaos}[mode]
    interval = st.fixed_dictionaries({"type": st.just("interval"), "every": every})
    manual = st.just({"type": "manual"})
    kinds = st.one_of(cron, once, interval, manual)
    if mode == "chaos":
        return st.one_of(kinds, st.dictionaries(ODD, anything(), max_size=3))
    return kinds


# ----------------------------------------------------------------- sections


@cache
def sizes(mode: str) -> st.SearchStrategy[str]:
    valid = st.one_of(
        st.integers(6, 1024 * 1024).map(lambda n: f"{n}m"),
        st.integers(1, 1024).map(lambda n: f"{n}g"),
        st.integers(6 * 1024, 10**6).map(lambda n: f"{n}k"),
        st.decimals(min_value=1, max_value=1024, places=3).map(lambda d: f"{d}g"),
    )
    edge = st.sampled_from(["6m", "1024g", "6144k", "6291456", "6291456b", "1024G", "1024gb"])
    chaos = st.one_of(
        valid,
        st.sampled_from(
            [
                "99999999999999g",
                "1025g",
                "5m",
                "0",
                "0.0000001g",
                "1" * 40 + "g",
                "9" * 400 + "g",
                "1t",
            ]
        ),
        st.builds(
            lambda n, u: f"{n}{u}",
            st.integers(0, 2**70),
            st.sampled_from(["", "b", "k", "m", "g", "kb"]),
        ),
        anything(),
    )
    return {"valid": valid, "edge": edge, "chaos": chaos}[mode]


@cache
def numbers(mode: str, low: float, high: float, whole: bool = True) -> st.SearchStrategy[Any]:
    """A number in [low, high]; edge: the bounds (as ints, and as 5.0-style floats)."""
    valid = (
        st.integers(int(low), int(high))
        if whole
        else st.floats(min_value=low, max_value=high, allow_nan=False)
    )
    edge = st.sampled_from([low, high, float(low), float(high)])
    if whole:
        edge = st.sampled_from([int(low), int(high), float(int(low)), float(int(high))])
    return pick(mode, valid, edge)


@cache
def policies(mode: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "concurrency": pick(mode, st.sampled_from(["allow", "forbid", "replace"])),
            "missed": pick(mode, st.sampled_from(["skip", "latest", "all"])),
            "startingDeadline": numbers(mode, 1, 31_622_400),
            "maxCatchUp": numbers(mode, 1, 1000),
        },
    )


@cache
def resources(mode: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "timeout": numbers(mode, 1, 604_800),
            "memory": sizes(mode),
            "cpus": numbers(mode, 0.01, 1024, whole=False),
        },
    )


@cache
def retries(mode: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "limit": numbers(mode, 0, 10),
            "backoff": st.one_of(numbers(mode, 0, 86_400), numbers(mode, 0, 86_400, whole=False)),
        },
    )


@cache
def notifications(mode: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "targets": pick(mode, st.lists(st.sampled_from(TARGETS), unique=True)),
            "onFailure": pick(mode, st.booleans()),
            "onSuccess": pick(mode, st.booleans()),
            "onRecovery": pick(mode, st.booleans()),
        },
    )


_TARGET = st.from_regex(r"\A/[a-z][a-z0-9]{0,7}(/[a-z0-9._-]{1,8}){0,3}\Z").filter(
    lambda t: (
        not t.startswith("/proc")
        and t not in ("/dev",)
        and "/.." not in t
        and "/./" not in t
        and not t.endswith("/.")
    )
)


@cache
def volumes(mode: str) -> st.SearchStrategy[list[str]]:
    source = st.one_of(
        st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z"),
        st.from_regex(r"\A(/[a-z0-9]{1,8}){0,3}\Z").map(lambda p: ALLOWED + p),
    )
    one = st.tuples(source, _TARGET, st.sampled_from(["", ":ro", ":rw"]))
    valid = st.lists(one, max_size=4, unique_by=lambda v: v[1].rstrip("/")).map(
        lambda vs: list(dict.fromkeys(f"{s}:{t}{m}" for s, t, m in vs))
    )
    if mode != "chaos":
        return valid
    odd_target = st.sampled_from(
        [
            "/",
            "/proc",
            "//proc/",
            "/proc/sys",
            "/dev",
            "/dev/null",
            "/etc/hosts",
            "/sys",
            "/a/../b",
            "rel",
            "/data/./x",
            "/dev/shm",
            "/x\x00y",
        ]
    )
    odd_source = st.sampled_from(
        ["/etc", "./x", "a b", "/srv/oven/../etc", "/srv/oven-evil", "-x", "\x00"]
    )
    noise = st.lists(
        st.tuples(
            st.one_of(source, odd_source),
            st.one_of(_TARGET, odd_target),
            st.sampled_from(["", ":ro", ":rx", ":"]),
        ).map(lambda v: f"{v[0]}:{v[1]}{v[2]}"),
        max_size=4,
    )
    return st.one_of(valid, noise, anything())


@cache
def env_and_secrets(mode: str) -> st.SearchStrategy[dict[str, Any]]:
    value = st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
    )
    env_st = st.dictionaries(NAMES, value, max_size=4)
    names_st = st.lists(NAMES, max_size=3, unique=True)
    chaos_env = st.dictionaries(st.one_of(NAMES, ODD), st.one_of(ODD, anything()), max_size=3)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        env = draw(env_st)
        secrets = [name for name in draw(names_st) if name not in env]
        found: dict[str, Any] = {}
        if env or draw(st.booleans()):
            found["env"] = env
        if secrets or draw(st.booleans()):
            found["secrets"] = secrets
        if mode == "chaos" and draw(st.booleans()):
            found["env"] = draw(chaos_env)
        return found

    return build()


# ----------------------------------------------------------------- whole manifests

_IDS = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
_PATH_PART = st.from_regex(r"\A[a-z0-9]{1,6}((\.|_|__|-{1,2})[a-z0-9]{1,6}){0,2}\Z")
_IMAGES = st.one_of(
    st.sampled_from(
        [
            "busybox",
            "agent-oven/base-tasks:latest",
            "registry.example.com:5000/a/b:1.2",
            "busybox@sha256:" + "a" * 64,
            "localhost/x",
            "UPPER.example.com/x__y",
        ]
    ),
    st.builds(
        lambda host, parts, tag: host + "/".join(parts) + tag,
        st.sampled_from(["", "registry.example.com/", "localhost:5000/", "Reg-1.example:1/"]),
        st.lists(_PATH_PART, min_size=1, max_size=3),
        st.one_of(st.just(""), st.from_regex(r"\A:[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")),
    ),
)
_NO_NUL = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_COMMAND = st.one_of(
    st.text(_NO_NUL, min_size=1, max_size=40),
    st.lists(st.text(_NO_NUL, max_size=20), min_size=1, max_size=4),
)
_DESCRIPTION = st.text(st.one_of(_line_chars, st.sampled_from("\t\n")), max_size=200)
_REPO_PATH = st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,20}(/[a-z0-9][a-z0-9._-]{0,20}){0,2}\Z")
_REPOS = st.one_of(  # the forms a source repo takes (a local path also needs the allow-list)
    _REPO_PATH.map(lambda path: f"https://git.example.com/{path}.git"),
    _REPO_PATH.map(lambda path: f"git://git.example.com/{path}"),
    _REPO_PATH.map(lambda path: f"ssh://git@git.example.com/{path}"),
    _REPO_PATH.map(lambda path: f"git@git.example.com:{path}.git"),
)
_SOURCE = st.fixed_dictionaries({"repo": _REPOS}, optional={"branch": line(1, 40)})
_PIPELINE = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,20}\Z")


@cache
def _fields(mode: str) -> dict[str, st.SearchStrategy[Any]]:
    """Every field's strategy in ``mode``, built once."""
    return {
        "kind": pick(mode, st.sampled_from(["docker", "docker", "agent-pipeline"])),
        "id": pick(mode, _IDS),
        "name": pick(mode, line(1, 200)),
        "schedule": schedules(mode),
        "description": pick(mode, _DESCRIPTION),
        "owner": pick(mode, line(0, 40)),
        "enabled": pick(mode, st.booleans()),
        "policy": policies(mode),
        "retries": retries(mode),
        "resources": resources(mode),
        "notifications": notifications(mode),
        "source": pick(mode, _SOURCE),
        "pipeline": pick(mode, _PIPELINE),
        "auth": pick(mode, st.sampled_from(["api-key", "oauth-token", "host-login"])),
        "model": pick(mode, line(1, 40)),
        "image": pick(mode, _IMAGES),
        "command": pick(mode, _COMMAND),
        "volumes": volumes(mode),
        "env": env_and_secrets(mode),
    }


COMMON = ("description", "owner", "enabled", "policy", "retries", "resources", "notifications")


@st.composite
def manifests(draw: st.DrawFn, mode: str) -> dict[str, Any]:
    """One job manifest (a mapping) in ``mode``: valid, edge or chaos.

    In chaos, one to three fields are drawn from anything and the rest stay valid, so the
    odd values that validation accepts go on into the daemon's code paths."""
    chaotic = (
        set(draw(st.lists(st.sampled_from([*_fields("chaos"), "extra"]), min_size=1, max_size=3)))
        if mode == "chaos"
        else set()
    )

    calm = "valid" if mode == "chaos" else mode

    def field(name: str) -> Any:
        return draw(_fields("chaos" if name in chaotic else calm)[name])

    kind = field("kind")
    job: dict[str, Any] = {
        "id": field("id"),
        "name": field("name"),
        "type": kind,
        "schedule": field("schedule"),
    }
    if kind == "agent-pipeline":
        job["source"], job["pipeline"] = field("source"), field("pipeline")
        optional = (*COMMON, "auth", "model")
    else:
        job["image"] = field("image")
        optional = (*COMMON, "command", "volumes")
    for name in optional:
        if name in chaotic or draw(st.booleans()):
            job[name] = field(name)
    job.update(field("env"))
    if "extra" in chaotic:  # an unknown field, or any value in place of a known one
        job[draw(st.sampled_from([*job, "extra", "timeout"]))] = draw(anything())
    return job


@st.composite
def oven_settings(draw: st.DrawFn, mode: str) -> dict[str, Any]:
    """oven.yaml: the two targets the jobs may name, and defaults drawn like job sections."""
    settings: dict[str, Any] = {
        "notifications": {
            "targets": {name: {"type": "slack", "urlSecret": "SLACK_URL"} for name in TARGETS}
        }
    }
    defaults = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "policy": policies(mode),
                "retries": retries(mode),
                "resources": resources(mode),
                "notifications": notifications(mode),
                "schedule": st.fixed_dictionaries(
                    {}, optional={"timezone": st.sampled_from(ZONES)}
                ),
            },
        )
    )
    if defaults:
        settings["defaults"] = defaults
    return settings


_YAML_ALPHABET = st.sampled_from(
    list(":-[]{}&*!|>'\"#%@`,? \n\t\\")
    + ["0", "9", "a", "Z", ".", "\x00", "\x1b", "\u202e", "é", "\U0001f600", "\ufeff"]
)


def yaml_noise(valid_texts: list[str]) -> st.SearchStrategy[bytes]:
    """Raw file contents: a valid manifest with one line mangled, YAML-ish text, or bytes."""

    @st.composite
    def mangled(draw: st.DrawFn) -> bytes:
        lines = draw(st.sampled_from(valid_texts)).splitlines()
        index = draw(st.integers(0, len(lines) - 1))
        key = lines[index].split(":", 1)[0]
        junk = draw(st.text(_YAML_ALPHABET, max_size=30) | ODD)
        lines[index] = draw(
            st.sampled_from([f"{key}: {junk}", f"{key}:{junk}", junk, f"{junk}: 1"])
        )
        return "\n".join(lines).encode("utf-8", "surrogatepass")

    return st.one_of(
        mangled(),
        st.text(_YAML_ALPHABET, max_size=200).map(lambda t: t.encode()),
        st.binary(max_size=200),
    )
