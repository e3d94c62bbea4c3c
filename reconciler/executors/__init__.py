"""Executors run one container per run; all implement ``reconciler.interfaces.Executor``.

- ``docker.DockerExecutor``: the local Docker engine (the default).
- ``memory.MemoryExecutor``: in memory, for unit tests of the reconcile cycle.

Both pass tests/executors/test_contract.py. Shared rules live beside them: ``labels`` (run
identity on containers), ``volumes`` and ``limits`` (what a manifest may ask for),
``logfiles`` (where full logs are kept) and ``messages`` (the errors users read).
"""
