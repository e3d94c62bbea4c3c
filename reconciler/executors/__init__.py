"""Executors run one container per run; all implement ``reconciler.interfaces.Executor``.

- ``docker.DockerExecutor``: the local Docker engine (the default).
- ``swarm.SwarmExecutor``: one replicated-job service per run on a Docker Swarm
  (``--executor swarm``, docs/cluster.md).
- ``memory.MemoryExecutor``: in memory, for unit tests of the reconcile cycle.

All pass tests/executors/test_contract.py. Shared rules live beside them: ``labels`` (run
identity on containers), ``volumes`` and ``limits`` (what a manifest may ask for),
``logfiles`` (where full logs are kept), ``messages`` (the errors users read) and ``engine``
(connecting to an engine with the docker SDK, its errors translated).
"""
