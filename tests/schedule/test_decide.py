"""decide() as a table: each case name is a rule of docs/scheduling.md.

Times without a date are on Monday 2026-03-02 (UTC). ``record="unchanged"`` means the decision
must hand back the ``last_scheduled`` it was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from reconciler.clock import utc
from reconciler.decide import Decision, decide
from reconciler.model import JobSpec, Policy, Schedule

HOURLY = Schedule("cron", cron="0 * * * *")
MINUTELY = Schedule("cron", cron="* * * * *")
LA, BERLIN = "America/Los_Angeles", "Europe/Berlin"


def at(text: str) -> datetime:
    return utc(text if "T" in text else f"2026-03-02T{text}Z")


@dataclass(frozen=True)
class Case:
    name: str
    now: str
    last: str | None = None
    created: str = "2026-03-01T00:00:00Z"
    active: int = 0
    schedule: Schedule = HOURLY
    policy: Policy = field(default_factory=Policy)
    enabled: bool = True
    starts: tuple[str, ...] = ()
    missed: int = 0
    stop: bool = False
    record: str | None = "unchanged"
    wake: str | None = "any"  # None: must not ask to be woken
    reason: str = ""
    warning: str = ""


def P(**kw: object) -> Policy:  # noqa: N802 - reads like a constructor in the table
    return Policy(**kw)  # type: ignore[arg-type]


CASES = [
    # ---- missed: latest (the default; Kubernetes CronJob controller v2)
    Case("latest: nothing due before the first fire time; wake 100 ms after it",
         now="10:30", last="10:00", wake="11:00:00.100", reason="nothing due"),
    Case("latest: a fire time is due at exactly that instant",
         now="11:00", last="10:00", starts=("11:00",), record="11:00", wake="12:00:00.100"),
    Case("latest: after 3h downtime starts only the most recent hourly run",
         now="13:20", last="10:00", starts=("13:00",), missed=2, record="13:00",
         wake="14:00:00.100", reason="2 older due times counted missed"),
    Case("latest: a job that never ran counts from its creation time",
         now="11:05", created="10:30", starts=("11:00",), record="11:00"),
    Case("latest: a job created after a fire time does not run it",
         now="10:45", created="10:30", record=None, wake="11:00:00.100"),
    Case("latest: more than 100 due times warn TooManyMissedTimes and the newest still starts",
         now="03:00:30", last="00:00", schedule=MINUTELY, starts=("03:00",), missed=179,
         record="03:00", warning="TooManyMissedTimes: 180 start times"),
    Case("latest: exactly 100 due times start the newest without a warning",
         now="01:40", last="00:00", schedule=MINUTELY, starts=("01:40",), missed=99,
         record="01:40"),
    Case("latest: finds the exact newest due time where the Kubernetes estimate picks an older one",
         now="2026-03-03T18:00:00Z", last="09:00",
         schedule=Schedule("cron", cron="0 9,17 * * *"),
         starts=("2026-03-03T17:00:00Z",), missed=2, record="2026-03-03T17:00:00Z",
         wake="2026-03-04T09:00:00.100Z"),
    Case("latest: a weekday schedule after the weekend starts Monday's run, nothing missed",
         now="09:30", last="2026-02-27T09:00:00Z", schedule=Schedule("cron", cron="0 9 * * 1-5"),
         starts=("09:00",), record="09:00", wake="2026-03-03T09:00:00.100Z"),
    # ---- startingDeadline
    Case("startingDeadline: the newest run starts within the deadline; older ones are missed",
         now="13:05", last="10:00", policy=P(starting_deadline=600), starts=("13:00",),
         missed=2, record="13:00", reason="past the lateness limit"),
    Case("startingDeadline: a run later than the deadline starts nothing (MissSchedule)",
         now="13:15", last="10:00", policy=P(starting_deadline=600), missed=3, record="13:00",
         wake="14:00:00.100", reason="MissSchedule"),
    Case("startingDeadline: a run exactly the deadline late is missed",
         now="11:10", last="10:00", policy=P(starting_deadline=600), missed=1, record="11:00",
         reason="MissSchedule"),
    # ---- concurrency
    Case("forbid: an active run defers the due run and keeps the last scheduled time",
         now="11:00:30", last="10:00", active=1, wake="12:00:00.100",
         reason="JobAlreadyActive: 1 run still active"),
    Case("forbid: when the active run has ended the late run starts",
         now="11:40", last="10:00", starts=("11:00",), record="11:00"),
    Case("forbid + startingDeadline: a deferred run that outlasts the deadline is missed",
         now="11:40", last="10:00", policy=P(starting_deadline=600), missed=1, record="11:00",
         reason="MissSchedule"),
    Case("forbid: nothing due with an active run just waits",
         now="11:30", last="11:00", active=1, wake="12:00:00.100", reason="nothing due"),
    Case("allow: active runs do not stop a new one",
         now="11:00", last="10:00", active=2, policy=P(concurrency="allow"), starts=("11:00",),
         record="11:00"),
    Case("replace: active runs are stopped and the due run starts",
         now="11:00", last="10:00", active=2, policy=P(concurrency="replace"),
         starts=("11:00",), stop=True, record="11:00", reason="replacing 2 active runs"),
    Case("replace: without active runs nothing is stopped",
         now="11:00", last="10:00", policy=P(concurrency="replace"), starts=("11:00",),
         record="11:00"),
    Case("replace: nothing due leaves the active run alone",
         now="11:30", last="11:00", active=1, policy=P(concurrency="replace"),
         wake="12:00:00.100"),
    # ---- missed: all
    Case("all (allow): after 3h downtime every missed hourly run starts, oldest first",
         now="13:20", last="10:00", policy=P(missed="all", concurrency="allow"),
         starts=("11:00", "12:00", "13:00"), record="13:00", reason="catching up 3 runs"),
    Case("all + forbid: the catch-up runs one at a time, oldest first",
         now="13:20", last="10:00", policy=P(missed="all"), starts=("11:00",), record="11:00",
         reason="2 more pending"),
    Case("all + forbid: the next decision continues after the finished catch-up run",
         now="13:40", last="11:00", policy=P(missed="all"), starts=("12:00",), record="12:00",
         reason="1 more pending"),
    Case("all + forbid: an active run defers the catch-up",
         now="13:40", last="11:00", active=1, policy=P(missed="all"), wake="14:00:00.100",
         reason="JobAlreadyActive"),
    Case("all: more missed runs than maxCatchUp start only the newest ones and warn",
         now="10:10", last="00:00", policy=P(missed="all", concurrency="allow", max_catch_up=3),
         starts=("08:00", "09:00", "10:00"), missed=7, record="10:00", warning="CatchUpCapped"),
    Case("all + forbid + maxCatchUp: capped ones are missed now, the oldest kept one starts",
         now="10:10", last="00:00", policy=P(missed="all", max_catch_up=3), starts=("08:00",),
         missed=7, record="08:00", warning="CatchUpCapped"),
    Case("all + startingDeadline: runs older than the deadline are missed, newer ones caught up",
         now="10:10", last="00:00",
         policy=P(missed="all", concurrency="allow", starting_deadline=7500),
         starts=("09:00", "10:00"), missed=8, record="10:00"),
    Case("all + replace: active runs are stopped and the catch-up batch starts together",
         now="13:20", last="10:00", active=1, policy=P(missed="all", concurrency="replace"),
         starts=("11:00", "12:00", "13:00"), stop=True, record="13:00"),
    # ---- missed: skip
    Case("skip: a run up to 60 s late starts",
         now="11:00:45", last="10:00", policy=P(missed="skip"), starts=("11:00",),
         record="11:00"),
    Case("skip: a run more than 60 s late is counted missed and nothing starts",
         now="11:02", last="10:00", policy=P(missed="skip"), missed=1, record="11:00",
         wake="12:00:00.100"),
    Case("skip: after downtime no missed run starts; the schedule resumes at the next fire time",
         now="13:30", last="10:00", policy=P(missed="skip"), missed=3, record="13:00",
         wake="14:00:00.100"),
    Case("skip: the first poll after downtime still starts a run less than 60 s late",
         now="13:00:30", last="10:00", policy=P(missed="skip"), starts=("13:00",), missed=2,
         record="13:00"),
    Case("skip + startingDeadline: the deadline replaces the 60 s limit",
         now="11:09", last="10:00", policy=P(missed="skip", starting_deadline=600),
         starts=("11:00",), record="11:00"),
    Case("skip + forbid: an active run defers an on-time run",
         now="11:00:30", last="10:00", active=1, policy=P(missed="skip"), reason="60s late"),
    Case("skip + forbid: the deferred run is missed once it is 60 s late",
         now="11:01:30", last="10:00", policy=P(missed="skip"), missed=1, record="11:00"),
    Case("skip + replace: an on-time run replaces the active one",
         now="11:00", last="10:00", active=1, policy=P(missed="skip", concurrency="replace"),
         starts=("11:00",), stop=True, record="11:00"),
    # ---- suspend (enabled: false) and resume
    Case("suspended: nothing starts, active runs are untouched, no wakeup",
         now="13:20", last="10:00", active=1, enabled=False, reason="suspended", wake=None),
    Case("resume with latest: the newest time missed while suspended runs once (as Kubernetes)",
         now="16:10", last="10:00", starts=("16:00",), missed=5, record="16:00"),
    Case("resume with skip: nothing missed while suspended runs",
         now="16:10", last="10:00", policy=P(missed="skip"), missed=6, record="16:00",
         wake="17:00:00.100"),
    # ---- interval schedules
    Case("interval 30s: fires on epoch-aligned multiples of 30 s, not creation + 30 s",
         now="10:00:31", created="10:00:10",
         schedule=Schedule("interval", every=timedelta(seconds=30)),
         starts=("10:00:30",), record="10:00:30", wake="10:01:00.100"),
    Case("interval 10m: aligned to the epoch (10:10), not to the creation time (10:03)",
         now="10:10", created="10:03", schedule=Schedule("interval", every=timedelta(minutes=10)),
         starts=("10:10",), record="10:10", wake="10:20:00.100"),
    Case("interval 30s: latest after a 5-minute outage starts only the newest slot",
         now="10:05:10", last="10:00", schedule=Schedule("interval", every=timedelta(seconds=30)),
         starts=("10:05",), missed=9, record="10:05"),
    Case("interval 1d: fires at 00:00 UTC",
         now="00:00:05", created="2026-03-01T12:00:00Z",
         schedule=Schedule("interval", every=timedelta(days=1)), starts=("00:00",),
         record="00:00", wake="2026-03-03T00:00:00.100Z"),
    # ---- once
    Case("once: waits for its time",
         now="11:00", created="10:00", schedule=Schedule("once", at=at("12:00")), record=None,
         wake="12:00:00.100"),
    Case("once: starts at its time and then needs no wakeup",
         now="12:00:05", created="10:00", schedule=Schedule("once", at=at("12:00")),
         starts=("12:00",), record="12:00", wake=None),
    Case("once: after it ran nothing more starts",
         now="13:00", last="12:00", schedule=Schedule("once", at=at("12:00")),
         reason="already ran", wake=None),
    Case("once: a job applied after its time never runs on its own",
         now="12:31", created="12:30", schedule=Schedule("once", at=at("12:00")), record=None,
         reason="never runs on its own", wake=None),
    Case("once: missed while the reconciler was down, latest still runs it",
         now="15:00", created="10:00", schedule=Schedule("once", at=at("12:00")),
         starts=("12:00",), record="12:00"),
    Case("once: missed while the reconciler was down, skip counts it missed",
         now="15:00", created="10:00", schedule=Schedule("once", at=at("12:00")),
         policy=P(missed="skip"), missed=1, record="12:00"),
    # ---- manual and broken schedules
    Case("manual: never starts on its own and never asks to be woken",
         now="13:00", created="10:00", schedule=Schedule("manual"), record=None, reason="manual",
         wake=None),
    Case("webhook: never starts on its own, only the write API starts it",
         now="13:00", created="10:00", schedule=Schedule("webhook"), record=None,
         reason="webhook schedule", wake=None),
    Case("an unknown time zone starts nothing and says why",
         now="13:00", last="10:00", schedule=Schedule("cron", cron="0 * * * *",
                                                       timezone="Mars/Olympus_Mons"),
         warning="InvalidSchedule: unknown time zone", wake=None),
    # ---- daylight saving (docs/scheduling.md: fixed times vs elapsed time)
    Case("DST LA spring forward: daily 02:30 runs once at 03:00 PDT, when the clocks jump",
         now="2026-03-08T10:00:30Z", last="2026-03-07T10:30:00Z",
         schedule=Schedule("cron", cron="30 2 * * *", timezone=LA),
         starts=("2026-03-08T10:00:00Z",), record="2026-03-08T10:00:00Z",
         wake="2026-03-09T09:30:00.100Z"),
    Case("DST LA fall back: daily 01:30 runs at the first 01:30 (PDT)",
         now="2026-11-01T08:30:10Z", last="2026-10-31T08:30:00Z",
         schedule=Schedule("cron", cron="30 1 * * *", timezone=LA),
         starts=("2026-11-01T08:30:00Z",), record="2026-11-01T08:30:00Z",
         wake="2026-11-02T09:30:00.100Z"),
    Case("DST LA fall back: the repeated 01:30 (PST) does not run again",
         now="2026-11-01T09:30:10Z", last="2026-11-01T08:30:00Z",
         schedule=Schedule("cron", cron="30 1 * * *", timezone=LA),
         wake="2026-11-02T09:30:00.100Z"),
    Case("DST LA spring forward: hourly has no 02:00 run and no gap in real time",
         now="2026-03-08T10:00:05Z", last="2026-03-08T09:00:00Z",
         schedule=Schedule("cron", cron="0 * * * *", timezone=LA),
         starts=("2026-03-08T10:00:00Z",), record="2026-03-08T10:00:00Z"),
    Case("DST LA: latest across the spring-forward night finds the 03:00 PDT run exactly",
         now="2026-03-08T12:00:00Z", last="2026-03-06T10:30:00Z",
         schedule=Schedule("cron", cron="30 2 * * *", timezone=LA),
         starts=("2026-03-08T10:00:00Z",), missed=1, record="2026-03-08T10:00:00Z"),
    Case("DST Berlin spring forward: daily 02:30 runs once at 03:00 CEST",
         now="2026-03-29T01:00:10Z", last="2026-03-28T01:30:00Z",
         schedule=Schedule("cron", cron="30 2 * * *", timezone=BERLIN),
         starts=("2026-03-29T01:00:00Z",), record="2026-03-29T01:00:00Z",
         wake="2026-03-30T00:30:00.100Z"),
    Case("DST Berlin fall back: daily 02:30 runs at the first 02:30 (CEST) only",
         now="2026-10-25T00:30:05Z", last="2026-10-24T00:30:00Z",
         schedule=Schedule("cron", cron="30 2 * * *", timezone=BERLIN),
         starts=("2026-10-25T00:30:00Z",), record="2026-10-25T00:30:00Z",
         wake="2026-10-26T01:30:00.100Z"),
    Case("DST Berlin fall back: hourly runs every real hour, twice at 02:00 wall time",
         now="2026-10-25T01:00:05Z", last="2026-10-25T00:00:00Z",
         schedule=Schedule("cron", cron="0 * * * *", timezone=BERLIN),
         starts=("2026-10-25T01:00:00Z",), record="2026-10-25T01:00:00Z",
         wake="2026-10-25T02:00:00.100Z"),
]

# ---- every missed x concurrency x active combination, same story: hourly job, reconciler down
# from 10:00 to 13:00:30, so 11:00, 12:00 and 13:00 are due (13:00 only 30 s late).
_GRID = {
    # (missed, concurrency, active): (starts, missed, stop, what happens)
    ("latest", "allow", 0): (("13:00",), 2, False, "starts only the newest"),
    ("latest", "allow", 1): (("13:00",), 2, False, "starts the newest beside the active run"),
    ("latest", "forbid", 0): (("13:00",), 2, False, "starts only the newest"),
    ("latest", "forbid", 1): ((), 0, False, "waits for the active run, accounts nothing"),
    ("latest", "replace", 0): (("13:00",), 2, False, "starts only the newest"),
    ("latest", "replace", 1): (("13:00",), 2, True, "stops the active run, starts the newest"),
    ("all", "allow", 0): (("11:00", "12:00", "13:00"), 0, False, "starts all three"),
    ("all", "allow", 1): (("11:00", "12:00", "13:00"), 0, False, "starts all three beside it"),
    ("all", "forbid", 0): (("11:00",), 0, False, "starts the oldest, one at a time"),
    ("all", "forbid", 1): ((), 0, False, "waits for the active run"),
    ("all", "replace", 0): (("11:00", "12:00", "13:00"), 0, False, "starts all three"),
    ("all", "replace", 1): (("11:00", "12:00", "13:00"), 0, True, "stops it, starts all three"),
    ("skip", "allow", 0): (("13:00",), 2, False, "starts only the on-time 13:00"),
    ("skip", "allow", 1): (("13:00",), 2, False, "starts the on-time 13:00 beside it"),
    ("skip", "forbid", 0): (("13:00",), 2, False, "starts only the on-time 13:00"),
    ("skip", "forbid", 1): ((), 0, False, "waits for the active run, accounts nothing"),
    ("skip", "replace", 0): (("13:00",), 2, False, "starts only the on-time 13:00"),
    ("skip", "replace", 1): (("13:00",), 2, True, "stops it, starts the on-time 13:00"),
}
CASES += [
    Case(f"grid: {missed} + {concurrency}, {active} active, after 3h downtime: {story}",
         now="13:00:30", last="10:00", active=active,
         policy=P(missed=missed, concurrency=concurrency), starts=starts, missed=dropped,
         stop=stop, record=starts[-1] if starts else "unchanged")
    for (missed, concurrency, active), (starts, dropped, stop, story) in _GRID.items()
]


def _job(case: Case) -> JobSpec:
    return JobSpec(id="job", name="Job", type="docker", schedule=case.schedule,
                   enabled=case.enabled, policy=case.policy)


def _decide(case: Case) -> Decision:
    last = at(case.last) if case.last else None
    return decide(_job(case), last, at(case.created), case.active, at(case.now))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decide(case: Case) -> None:
    decision = _decide(case)
    assert decision.starts == tuple(at(t) for t in case.starts), decision.reason
    assert decision.start == (at(case.starts[-1]) if case.starts else None)
    assert decision.missed == case.missed, decision.reason
    assert decision.stop_active == case.stop
    last = at(case.last) if case.last else None
    expected_record = last if case.record == "unchanged" else (
        at(case.record) if case.record else None)
    assert decision.record_until == expected_record
    if case.wake != "any":
        assert decision.next_wakeup == (at(case.wake) if case.wake else None)
    assert case.reason in decision.reason
    assert decision.reason and "\n" not in decision.reason
    if case.warning:
        assert any(case.warning in w for w in decision.warnings), decision.warnings
    else:
        assert decision.warnings == ()


def test_every_policy_combination_is_covered() -> None:
    combos = {(c.policy.missed, c.policy.concurrency, c.active > 0) for c in CASES}
    assert len(combos) == 3 * 3 * 2


def test_decide_is_pure_same_inputs_same_decision() -> None:
    for case in CASES:
        assert _decide(case) == _decide(case), case.name


def test_deciding_again_right_after_a_start_starts_nothing_more() -> None:
    """The caller persists record_until; a second call at the same moment is a no-op."""
    for case in CASES:
        first = _decide(case)
        if not first.starts:
            continue
        active = case.active + len(first.starts) if not first.stop_active else len(first.starts)
        again = decide(_job(case), first.record_until, at(case.created), active, at(case.now))
        assert again.starts == (), case.name
        assert not again.stop_active, case.name
