"""Job manifests: YAML files in the config repo -> validated ``JobSpec``s with file:line problems.

    load_tree(files, revision, volume_allowlist) -> DesiredState    the whole repo at a revision
    read_worktree(root) -> {path: bytes}                              the same files from disk
    validate_worktree(root, volume_allowlist) -> DesiredState         both, for ``oven validate``
    parse_job(path, data, defaults, volume_allowlist) -> (JobSpec | None, [Problem])
    keep_last_good(new, previous) -> DesiredState                    broken files keep their job
    Symlink(target)                  how a source hands on a manifest path that is a link
    TreeFiles(blobs, links, read)    a git tree's files, read on demand, blob ids known

Pipeline per file: ``safe_yaml`` (limits, no tags, line map) -> ``precheck`` (the compiled
JSON Schema: valid or not) -> ``validate`` (jsonschema, short messages, for the files the
pre-check fails) -> ``checks`` (schedules, volumes, bounds, targets) -> ``build`` (defaults,
JobSpec). ``bounds`` holds every limit on times, durations, counts and sizes. Outcomes are
cached by git blob id (``cache``); a git tree's load is kept and the next tree's derived from
it through the changed paths (``loaded``).
The field reference is docs/manifests.md; the schemas are in schema/.
"""

from reconciler.manifests.files import Symlink, TreeFiles
from reconciler.manifests.job import parse_job
from reconciler.manifests.lastgood import keep_last_good
from reconciler.manifests.tree import is_job_path, load_tree
from reconciler.manifests.worktree import read_worktree, validate_worktree

__all__ = [
    "Symlink",
    "TreeFiles",
    "is_job_path",
    "keep_last_good",
    "load_tree",
    "parse_job",
    "read_worktree",
    "validate_worktree",
]
