"""Per-run checkouts of agent-pipeline source repos (``interfaces.Workspaces``).

``GitWorkspaces`` clones with the real git client under the state directory and reads the
host's Claude and gh logins; ``MemoryWorkspaces`` keeps checkouts as dicts for unit tests of
the cycle. Both pass the same contract tests (tests/pipelines/test_workspaces.py).
"""

from reconciler.workspaces.git import GitWorkspaces
from reconciler.workspaces.memory import MemoryWorkspaces

__all__ = ["GitWorkspaces", "MemoryWorkspaces"]
