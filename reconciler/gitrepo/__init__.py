"""Git plumbing shared by the config source and the ledger: a bare mirror of one remote, and
reading files out of trees. ``source`` and ``ledger`` both build on this package and never
import each other.
"""

from reconciler.gitrepo.credentials import Credentials
from reconciler.gitrepo.mirror import GitMirror

__all__ = ["Credentials", "GitMirror"]
