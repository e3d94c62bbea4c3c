"""The config source for a remote git repository: fetch a branch, read its manifests.

Implements ``interfaces.ConfigSource`` on top of ``GitMirror``; the mirror lives under the
reconciler's state directory and can be shared with the ledger (``GitLedger(source.mirror)``)
so the config repo is fetched into one place. ``files`` names each file's blob id and reads a
file only when the loader asks for it (``manifests.TreeFiles``): files the parse cache has seen
are never read again.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import SourceError
from reconciler.gitrepo import Credentials, GitMirror
from reconciler.manifests import TreeFiles

MANIFEST_PREFIXES = ("oven.yaml", "jobs/")
MANIFEST_SUFFIXES = (".yaml", ".yml")


def is_manifest_path(path: str) -> bool:
    """oven.yaml at the top, or a YAML file anywhere under jobs/."""
    return path == "oven.yaml" or (path.startswith("jobs/") and path.endswith(MANIFEST_SUFFIXES))


class GitSource:
    """Manifests from ``branch`` of the git repository at ``remote``."""

    def __init__(
        self, remote: str, branch: str, state_dir: Path, credentials: Credentials | None = None
    ) -> None:
        self.branch = branch
        self.mirror = GitMirror(remote, Path(state_dir) / "mirror.git", credentials=credentials)

    def fetch(self) -> str:
        """Fetch the remote; return the head sha of the config branch."""
        heads = self.mirror.fetch()
        sha = heads.get(b"refs/heads/" + self.branch.encode())
        if sha is None:
            self.mirror.check_branch(self.branch, SourceError)
            known = ", ".join(sorted(ref.decode()[len("refs/heads/"):] for ref in heads))
            raise SourceError(
                f"branch {self.branch!r} not found in {self.mirror.display}",
                hint=f"branches there: {known}" if known else "the repository has no commits yet",
            )
        return sha.decode()

    def files(self, revision: str) -> TreeFiles:
        """oven.yaml and jobs/**/*.y(a)ml of the revision (a sha, short sha or branch)."""
        sha = self.mirror.resolve(revision)
        return self.mirror.tree_files(sha, MANIFEST_PREFIXES, is_manifest_path)
