"""How numbers and times look on the pages (the Jinja filters).

The browser script (``static/live.js``) formats the same values the same way when it
re-renders; keep the two in step. Relative times ("3m ago") are only computed in the
browser; the one exception is a running run's elapsed time, rendered on the server for pages
read without script, from the ``now`` the page hands in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment

from reconciler.schedule.words import cron_in_words

DASH = "—"


def duration(seconds: Any) -> str:
    """1.234 -> '1.2s', 83 -> '1m 23s', 7260 -> '2h 1m'."""
    if seconds is None or seconds == "":
        return DASH
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return DASH
    if value < 10:
        return f"{value:.1f}s"
    whole = int(round(value))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def percent(ratio: Any) -> str:
    """0.953 -> '95%'; None -> dash."""
    if ratio is None or ratio == "":
        return DASH
    try:
        return f"{float(ratio) * 100:.0f}%"
    except (TypeError, ValueError):
        return DASH


def short_time(value: Any) -> str:
    """'2026-03-01T02:00:00.123Z' -> '2026-03-01 02:00:00Z' (the no-script fallback)."""
    if not value:
        return DASH
    text = str(value)
    date, _, rest = text.partition("T")
    if not rest:
        return text
    clock = rest.rstrip("Z").split(".")[0].split("+")[0]
    return f"{date} {clock}Z"


def short_rev(value: Any) -> str:
    return str(value)[:12] if value else DASH


def schedule_text(value: Any) -> str:
    """The job summary's schedule in words; a raw schedule mapping is described briefly, its
    cron in words (``schedule.words.cron_in_words``), never as the bare expression."""
    if isinstance(value, Mapping):
        kind = value.get("type", "")
        if kind == "cron" and value.get("cron"):
            return cron_in_words(str(value["cron"]))
        detail = value.get("cron") or value.get("at") or value.get("every") or ""
        return f"{kind} {detail}".strip()
    return str(value) if value else DASH


def count(value: Any) -> str:
    """1234 -> '1.2k', 2500000 -> '2.5M', 87 -> '87'."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return DASH
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            return f"{number / size:.1f}{unit}"
    return f"{number:.0f}"


def tokens(value: Any) -> str:
    """Token counts in brief: '1.5k in · 250 out' (cache and thinking counts left out)."""
    if not isinstance(value, Mapping) or not value:
        return DASH
    parts = [
        f"{count(value[key])} {word}"
        for key, word in (("input", "in"), ("output", "out"))
        if key in value
    ]
    return " · ".join(parts) or DASH


def elapsed(started: Any, now: datetime | None) -> str:
    """'2026-03-01T02:00:00Z' and a ``now`` 83 s later -> '1m 23s'; dash when unknown."""
    if not started or now is None:
        return DASH
    try:
        began = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        return duration(max(0.0, (now - began).total_seconds()))
    except (TypeError, ValueError):
        return DASH


def or_dash(value: Any) -> Any:
    return DASH if value is None or value == "" else value


def install(env: Environment) -> None:
    env.filters.update(
        duration=duration,
        percent=percent,
        short_time=short_time,
        short_rev=short_rev,
        schedule_text=schedule_text,
        or_dash=or_dash,
        count=count,
        tokens=tokens,
        elapsed=elapsed,
    )
