"""`python -m reconciler` is the same as the `oven` command."""

from reconciler.cli import main

raise SystemExit(main())
