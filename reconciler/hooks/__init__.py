"""The write side of the web server: signed push webhooks (``POST /hooks/git``).

An adapter-level Starlette app beside the read-only status app (reconciler/web/), mounted next
to it by the daemon (loop.py). It imports neither the cycle nor the web: all it can do is call
the ``on_push`` callback it is given, which asks the daemon to fetch at once.
"""

from reconciler.hooks.app import MAX_BODY, create_hooks_app
from reconciler.hooks.verify import Delivery, verify

__all__ = ["MAX_BODY", "Delivery", "create_hooks_app", "verify"]
