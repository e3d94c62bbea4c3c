"""Notifications: Slack, Discord and generic webhooks, fed by run transitions.

``reconciler.transitions`` (pure) decides which events a committed cycle carries; this adapter
package keeps them in a durable outbox in the state dir (``outbox``), renders them in each
target's documented form (``payloads``), posts them from its own thread with bounded timeouts
and backoff (``delivery``, ``worker``) and counts and reports targets that stopped answering.
Nothing here ever blocks or fails a reconcile cycle. Reference: docs/notifications.md.
"""

from reconciler.notify.outbox import Outbox
from reconciler.notify.worker import Notifier

__all__ = ["Notifier", "Outbox"]
