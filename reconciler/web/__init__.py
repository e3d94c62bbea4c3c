"""The read-only status page, JSON API, probes and metrics (docs/web.md).

``app.create_app(get_snapshot)`` builds the Starlette app from a callable returning a
``snapshot.Snapshot``; ``server.serve``/``server.serve_in_thread`` run it under uvicorn.
Nothing in the pure core imports this package.
"""
