"""Agent Oven: a GitOps reconciler that runs scheduled jobs in containers and records their
results in git."""

__version__ = "0.1.0"
