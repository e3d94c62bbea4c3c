"""Shared manifests for the manifest tests: one valid job of each type, and a way to vary them."""

from __future__ import annotations

import pytest

DOCKER_JOB = """\
id: backup-db
name: Database backup
type: docker
image: agent-oven/base-tasks
command: ["sh", "/scripts/backup.sh"]
schedule:
  type: cron
  cron: "0 4 * * *"
"""

AGENT_JOB = """\
id: nightly-review
name: Nightly code review
type: agent-pipeline
source:
  repo: git@github.com:myorg/myapp.git
pipeline: post-commit-example
schedule: {type: cron, cron: "0 2 * * *", timezone: America/Los_Angeles}
"""

OVEN = """\
defaults:
  policy: {concurrency: forbid, startingDeadline: 600}
  retries: {limit: 2}
  resources: {timeout: 1800, memory: 1g}
  schedule: {timezone: Europe/Berlin}
  env: {LOG_LEVEL: info}
  notifications: {targets: [team-slack]}
notifications:
  targets:
    team-slack: {type: slack, urlSecret: SLACK_WEBHOOK_URL}
    ops-hook: {type: webhook, urlSecret: OPS_WEBHOOK_URL}
"""

ALLOWLIST = ("/srv/oven",)


@pytest.fixture
def good_files() -> dict[str, bytes]:
    """A small valid config repo: oven.yaml and one job of each type."""
    return {
        "oven.yaml": OVEN.encode(),
        "jobs/backup.yaml": DOCKER_JOB.encode(),
        "jobs/review/nightly.yml": AGENT_JOB.encode(),
    }
