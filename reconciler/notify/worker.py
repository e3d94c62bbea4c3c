"""The notifier: takes each committed cycle's events into the outbox, and delivers them from
its own thread, so a slow or dead target never delays a run.

``stage`` runs before each status commit and writes its events to the outbox held: its run
events, and the reconciler's (a bad commit, Stalled) as the reconciler.yaml it is about to
write shows them. ``listen`` is a recorder listener after it (it runs in the tick's thread
and only writes the outbox file): it releases the run events once the commit went through,
the reconciler's after every record step (``transitions.reconciler_events``). ``recover``
releases, at start, the held events whose commit a killed daemon made.

The worker thread delivers whether this daemon leads or stands by: the released messages
are those of commits it made itself. Held ones wait for ``recover``, which runs when it
leads again.

The worker thread sends pending entries oldest first, one target's in order: a target
that fails is not tried again before its backoff is over (doubling from ``base`` up to
``cap``, or the time a 429 asked for). An entry is given up after ``max_attempts`` attempts,
after ``give_up_after`` or at once when the target refuses it for good (a 4xx other than
429). A target is **dead** after ``dead_after`` consecutive failures or a given-up entry,
until a message to it goes through: the page shows a warning and ``/metrics`` counts it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from reconciler.clock import Clock
from reconciler.errors import OvenError
from reconciler.model import NotifySettings, NotifyTarget
from reconciler.notify.delivery import Sent, post
from reconciler.notify.outbox import Entry, Outbox
from reconciler.notify.payloads import payload
from reconciler.secrets import SecretStore
from reconciler.status.changes import CycleReport
from reconciler.telemetry import Telemetry
from reconciler.transitions import OUTCOMES, reconciler_events, run_events, shown

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("oven")


@dataclass
class TargetHealth:
    failures: int = 0  # consecutive
    blocked_until: datetime | None = None
    dead: bool = False
    last_error: str = ""


class Notifier:
    def __init__(
        self,
        outbox: Outbox,
        secrets: SecretStore,
        clock: Clock,
        telemetry: Telemetry | None = None,
        *,
        timeout: float = 10.0,
        base: float = 2.0,
        cap: float = 300.0,
        max_attempts: int = 12,
        give_up_after: timedelta = timedelta(hours=24),
        dead_after: int = 3,
    ) -> None:
        self.outbox, self.secrets, self.clock = outbox, secrets, clock
        self.telemetry = telemetry or Telemetry()
        self.base, self.cap, self.max_attempts = base, cap, max_attempts
        self.give_up_after, self.dead_after = give_up_after, dead_after
        self.settings: NotifySettings | None = None  # the last known good oven.yaml targets
        self.health: dict[str, TargetHealth] = {}
        self.timeout = timeout
        self._client: httpx.Client | None = None  # made at the first send: see ``client``
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the cycle's side ---------------------------------------------------------------------
    def configure(self, settings: NotifySettings | None) -> None:
        """The targets of the applied oven.yaml; None (a broken oven.yaml) keeps the last."""
        if settings is not None and settings != self.settings:
            self.settings = settings
            self._wake.set()

    def stage(
        self, report: CycleReport, upcoming: Mapping[str, Any], before: Mapping[str, Any]
    ) -> None:
        """Before a status commit: its events, held until ``listen`` hears it went through
        (a daemon killed in between finds them at its next start: ``recover``)."""
        events = run_events(report)
        events += reconciler_events(upcoming, before, self.settings, report.now)
        if events:
            self.outbox.add(events, self.clock.now(), held=True)

    def recover(
        self, run_status: Callable[[str], str | None], reconciler: Mapping[str, Any]
    ) -> None:
        """At start: release the held events whose commit the status branch shows: a run's
        when it shows the run ended (``run_status``: a run id's status there, None when it has
        no such run), the reconciler's when its reconciler.yaml (``reconciler``) carries them.
        The others stay held: their commit did not happen, and is made again with the same
        events (or never, when what they tell is no longer true)."""
        held = self.outbox.held()
        ended = [
            entry.id
            for entry in held
            if (
                run_status(entry.event.run_id) in OUTCOMES
                if entry.event.run_id is not None
                else shown(entry.event, reconciler)
            )
        ]
        if ended and self.outbox.release(ended):
            log.info("notifications: %d message(s) of the last commit before a stop released",
                     len(ended))
            self._wake.set()

    def listen(self, report: CycleReport, recorded: Any, before: Mapping[str, Any]) -> None:
        """A recorder listener: the events of this record step, into the outbox."""
        events = list(reconciler_events(recorded.reconciler, before, self.settings, report.now))
        if recorded.committed:
            events += run_events(report)
        if not events:
            return
        added = self.outbox.add(events, self.clock.now())
        if added:
            log.info("notifications: %d message(s) queued", len(added))
            self._wake.set()

    def wake(self) -> None:
        """Look at the outbox now (entries were added)."""
        self._wake.set()

    def warnings(self) -> list[str]:
        """One line per dead target, for the reconciler's warnings."""
        return [
            f"notification target {name} is not answering: {health.last_error}"
            for name, health in sorted(dict(self.health).items())  # a copy: the worker adds
            if health.dead
        ]

    # -- the worker's side --------------------------------------------------------------------
    @property
    def client(self) -> httpx.Client:
        """The HTTP client, made (and httpx imported: 0.1-0.8 s, it pulls in ``rich`` when
        installed) at the first message sent, not at start: most daemons send none early."""
        if self._client is None:
            import httpx

            timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0))
            self._client = httpx.Client(timeout=timeout)
        return self._client

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="oven-notify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._client is not None:
            self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before looking: a wake-up while we send is not lost
            try:
                pause = self.deliver_due()
            except Exception:  # the last line of defence: log, wait, go on
                log.exception("notifications: unexpected error")
                pause = self.cap
            self._wake.wait(pause)

    def deliver_due(self) -> float:
        """Send every entry that is due; answer the seconds until the next one is."""
        if self.settings is None:
            return 1.0  # the targets are known once the config is loaded
        blocked: set[str] = set()  # a target that failed or must wait: its later entries wait
        for entry in self.outbox.pending():
            if self._stop.is_set():
                break
            if entry.target in blocked:
                continue
            due = self._due(entry)
            waiting = due is not None and due > self.clock.now()
            health = self.health.setdefault(entry.target, TargetHealth())
            if waiting or not self._deliver(entry, health):
                blocked.add(entry.target)
        pending = self.outbox.pending()
        self.telemetry.notifications_pending.set(len(pending))
        if not pending:
            return self.cap
        soonest = min(self._due(entry) or self.clock.now() for entry in pending)
        return min(max((soonest - self.clock.now()).total_seconds(), 0.05), self.cap)

    def _due(self, entry: Entry) -> datetime | None:
        """When ``entry`` may be tried: its own backoff, and its target's 429 wait."""
        health = self.health.get(entry.target)
        waits = (entry.next_try, health.blocked_until if health else None)
        return max((t for t in waits if t is not None), default=None)

    def _deliver(self, entry: Entry, health: TargetHealth) -> bool:
        target = self.settings.target(entry.target) if self.settings else None
        if target is None:
            self._give_up(entry, health, "the target is no longer defined in oven.yaml", dead=False)
            return True
        sent = self._send(target, entry)
        now = self.clock.now()
        if sent.delivered:
            self.outbox.update(entry, attempts=entry.attempts + 1, delivered_at=now)
            self.telemetry.notifications_sent.labels(entry.target).inc()
            if health.dead:
                log.info("notification target %s answers again", entry.target)
            self.health[entry.target] = TargetHealth()
            self.telemetry.notification_target_dead.labels(entry.target).set(0)
            return True
        self.telemetry.notification_failures.labels(entry.target).inc()
        attempts = entry.attempts + 1
        too_old = now - entry.created_at >= self.give_up_after
        if not sent.retry or attempts >= self.max_attempts or too_old:
            self._give_up(replace(entry, attempts=attempts), health, sent.detail)
            return False
        delay = min(self.base * 2 ** (attempts - 1), self.cap)
        if sent.retry_after is not None:
            delay = sent.retry_after
            health.blocked_until = now + timedelta(seconds=delay)
        next_try = now + timedelta(seconds=delay)
        self.outbox.update(entry, attempts=attempts, next_try=next_try, last_error=sent.detail)
        self._failed(entry.target, health, sent.detail)
        log.warning(
            "notification %s to %s failed (%s); next try in %.1fs",
            entry.event.key,
            entry.target,
            sent.detail,
            delay,
        )
        return False

    def _send(self, target: NotifyTarget, entry: Entry) -> Sent:
        names = [target.url_secret] + ([target.signing_secret] if target.signing_secret else [])
        try:
            values = self.secrets.resolve(names)
        except OvenError as exc:
            return Sent(False, retry=True, detail=exc.message)
        return post(
            self.client,
            values[target.url_secret],
            payload(target.type, entry.event),
            kind=target.type,
            key=entry.event.key,
            event=entry.event.kind,
            signing_key=values.get(target.signing_secret or ""),
        )

    def _give_up(
        self, entry: Entry, health: TargetHealth, detail: str, *, dead: bool = True
    ) -> None:
        self.outbox.update(
            entry, attempts=entry.attempts, gave_up_at=self.clock.now(), last_error=detail
        )
        self.telemetry.notifications_given_up.labels(entry.target).inc()
        log.error(
            "notification %s to %s given up after %d attempt(s): %s",
            entry.event.key,
            entry.target,
            entry.attempts,
            detail,
        )
        if dead:
            self._failed(entry.target, health, detail, dead=True)

    def _failed(self, name: str, health: TargetHealth, detail: str, dead: bool = False) -> None:
        health.failures += 1
        health.last_error = detail
        if (dead or health.failures >= self.dead_after) and not health.dead:
            health.dead = True
            log.error("notification target %s counts as dead: %s", name, detail)
        self.telemetry.notification_target_dead.labels(name).set(1 if health.dead else 0)
