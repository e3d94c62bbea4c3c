"""When a job fires: the one package that knows cron, time zones and intervals.

Everything else imports from ``reconciler.schedule`` and gets fire times as timezone-aware
UTC datetimes. Schedule types:

- ``manual`` and ``webhook`` never fire on their own (``webhook``: only the write API
  starts it); ``once`` fires exactly at ``at``;
- ``interval`` fires at the instants whose unix time is a multiple of ``every`` (UTC, epoch
  aligned), so fire times do not depend on when the reconciler started;
- ``cron`` (5 fields or ``@hourly``/``@daily``/``@weekly``/``@monthly``/``@yearly``) is read in
  the IANA ``timezone``; day-of-month and day-of-week are ORed when both are restricted.

One job per module: ``parse`` reads and checks schedules, ``fires`` answers the fire-time
queries, ``dst`` maps cron wall times to instants across daylight saving, ``words`` puts a
schedule into words, and ``cron`` is the only module in the project that imports croniter.
This file only re-exports their public names, so importers need not know the split.
"""

from reconciler.schedule.cron import LOOKAHEAD_YEARS
from reconciler.schedule.fires import (
    count_fires_between,
    fires_between,
    next_fire,
    previous_fire,
    recent_fires,
)
from reconciler.schedule.parse import (
    ALIASES,
    MAX_INTERVAL,
    cron_fields,
    parse_interval,
    validate_schedule,
)
from reconciler.schedule.words import describe

__all__ = [
    "ALIASES",
    "LOOKAHEAD_YEARS",
    "MAX_INTERVAL",
    "count_fires_between",
    "cron_fields",
    "describe",
    "fires_between",
    "next_fire",
    "parse_interval",
    "previous_fire",
    "recent_fires",
    "validate_schedule",
]
