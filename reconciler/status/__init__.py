"""The status files committed to git: their paths, their YAML and what they say (pure).

Three kinds of file live under ``status/`` on the status branch (docs/status-files.md):
``reconciler.yaml`` (revisions, conditions, manifest problems), ``jobs/<id>.yaml`` (a summary
computed from the job's recent runs) and ``runs/<job>/<run>.yaml`` (one ``RunRecord`` each).
This package renders and parses them and computes the summaries; it does no I/O and imports
no adapter, so the ledger (git), the CLI and the web pages share one definition.

One job per module: ``files`` (paths, stable YAML, commit subjects), ``summary`` (run
statistics, job summaries, pruning), ``conditions`` (``reconciler.yaml``), ``tree``
(reading a status branch back) and ``report`` (``oven status`` as text or JSON). This file
only re-exports their public names, so importers keep using ``reconciler.status``.
"""

from reconciler.status.conditions import reconciler_status
from reconciler.status.files import (
    JOBS_DIR,
    RECONCILER_PATH,
    RUNS_DIR,
    STATUS_DIR,
    STATUS_SCHEMA_VERSION,
    commit_message,
    dump_yaml,
    job_path,
    load_yaml,
    render_run,
    run_path,
    short_revision,
)
from reconciler.status.report import format_status, status_document
from reconciler.status.summary import (
    FAILURES,
    KEEP_RUNS,
    OUTCOMES,
    RECENT_RUNS,
    consecutive_failures,
    job_summary,
    newest_first,
    p95_duration,
    prune_runs,
    recent_outcomes,
    run_time,
    success_rate,
)
from reconciler.status.tree import StatusTree, parse_status_tree

__all__ = [
    "FAILURES",
    "JOBS_DIR",
    "KEEP_RUNS",
    "OUTCOMES",
    "RECENT_RUNS",
    "RECONCILER_PATH",
    "RUNS_DIR",
    "STATUS_DIR",
    "STATUS_SCHEMA_VERSION",
    "StatusTree",
    "commit_message",
    "consecutive_failures",
    "dump_yaml",
    "format_status",
    "job_path",
    "job_summary",
    "load_yaml",
    "newest_first",
    "p95_duration",
    "parse_status_tree",
    "prune_runs",
    "recent_outcomes",
    "reconciler_status",
    "render_run",
    "run_path",
    "run_time",
    "short_revision",
    "status_document",
    "success_rate",
]
