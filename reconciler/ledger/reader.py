"""Reading a status branch for a person: ``oven status`` and ``oven plan`` ask what it says.

``GitLedger.read`` answers with no files both when the branch is empty and when it does not
exist; a reader needs to tell "no reconciler has run against this repo" apart, so this looks
at the branch tip after the read's fetch.
"""

from __future__ import annotations

from reconciler.gitrepo import GitMirror
from reconciler.ledger.git import GitLedger
from reconciler.status import StatusTree, parse_status_tree


def read_status_tree(mirror: GitMirror, branch: str) -> StatusTree | None:
    """The parsed status files of ``branch`` at the remote tip; None when there is no branch.

    Raises ``LedgerError`` (with the fetch's message and hint) when the remote cannot be read.
    """
    files = GitLedger(mirror, branch).read()
    if mirror.local_tip(branch) is None:
        return None
    return parse_status_tree(files)
