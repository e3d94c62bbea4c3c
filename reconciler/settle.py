"""What to do about one container the engine reports (pure; tested as a table like decide).

The settle step of the cycle asks ``classify`` about every container carrying the
reconciler's labels and does what the answer says:

    known record?  container   record final?  its job                  action
    no             any         -              -                        adopt, then as below
    yes            running     yes            -                        LEAVE (stop asked for)
    yes            running     no             removed from the config  STOP_REMOVED
    yes            running     no             past resources.timeout   TIME_OUT
    yes            running     no             present, within limits   KEEP
    yes            exited      yes            -                        RECORDED
    yes            exited      no             -                        FINISH

``STOP_REMOVED`` needs a loaded config: before the first successful load every job is
unknown, not removed. Every action but ``LEAVE`` makes the container removable once the
run's final result is committed. Records without a container are ``vanished``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from reconciler.interfaces import ObservedRun
from reconciler.model import JobSpec, RunRecord
from reconciler.outcomes import is_timed_out

__all__ = ["Action", "Settlement", "classify", "vanished"]


class Action(Enum):
    KEEP = "keep"  # running as it should
    LEAVE = "leave"  # running, but its run already ended (a stop was asked for): wait
    STOP_REMOVED = "stop-removed"  # its job left the config: stop it, record JobRemoved
    TIME_OUT = "time-out"  # outlived resources.timeout: kill it, record timed_out
    FINISH = "finish"  # exited on its own: record its outcome
    RECORDED = "recorded"  # exited and its outcome is already recorded


@dataclass(frozen=True)
class Settlement:
    adopt: bool  # no record of this run: record it as running first (started before a crash)
    action: Action

    @property
    def removable(self) -> bool:
        """May the container be removed once the run's final result is committed?"""
        return self.action is not Action.LEAVE


def classify(
    record: RunRecord | None,
    container: ObservedRun,
    job: JobSpec | None,
    *,
    config_loaded: bool,
    now: datetime,
) -> Settlement:
    """The action for ``container``; ``record`` is the book's record of its run, if any."""
    adopt = record is None
    final = record is not None and record.is_final
    if container.state == "running":
        if final:
            return Settlement(adopt, Action.LEAVE)
        if config_loaded and job is None:
            return Settlement(adopt, Action.STOP_REMOVED)
        if is_timed_out(job, container, now):
            return Settlement(adopt, Action.TIME_OUT)
        return Settlement(adopt, Action.KEEP)
    return Settlement(adopt, Action.RECORDED if final else Action.FINISH)


def vanished(active: Iterable[RunRecord], observed: Iterable[ObservedRun]) -> list[RunRecord]:
    """Active runs whose container the engine no longer reports."""
    seen = {container.run_id for container in observed}
    return [record for record in active if record.run_id not in seen]
