"""The write endpoints: trigger, cancel and retry, each spooled for the daemon's next tick.

Every request goes through the same gate, in this order: a bearer token from
``Authorization`` (401 when missing, unknown or revoked), the token's rate limit (429 with
``Retry-After``), the input (400), the token's scope against the job (403), and the job or run
(404, or 409 when the run is in the wrong state). Only then is a request spooled, the daemon
woken (``wake``), and the write logged with the token's name (never the token). Errors are
JSON ``{"error": {"status", "message", "hint"}}``, like the read API's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reconciler.api.openapi import document
from reconciler.api.ratelimit import RateLimiter
from reconciler.api.tokens import Token, TokenStore
from reconciler.errors import OvenError
from reconciler.runids import next_attempt_id
from reconciler.spool import RequestSpool
from reconciler.status.view import Snapshot, SnapshotSource

log = logging.getLogger("oven.api")

KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # Idempotency-Key: printable ASCII without spaces
RETRYABLE = ("failed", "timed_out", "cancelled")


class Refused(Exception):
    """A request answered with an error; ``headers`` go with it (Retry-After, ...)."""

    def __init__(self, status: int, message: str, hint: str = "", **headers: str) -> None:
        super().__init__(message)
        self.status, self.message, self.hint, self.headers = status, message, hint, headers


def create_api_app(
    state_dir: Path,
    get_snapshot: SnapshotSource,
    *,
    wake: Callable[[], object] = lambda: None,
    limiter: RateLimiter | None = None,
) -> Starlette:
    """The write API over the spool of ``state_dir``; ``wake`` makes the daemon tick now."""
    api = WriteApi(state_dir, get_snapshot, wake, limiter or RateLimiter())
    return Starlette(
        routes=[
            Route("/api/v1/jobs/{job_id}/runs", api.trigger, methods=["POST"]),
            Route("/api/v1/runs/{run_id}/cancel", api.cancel, methods=["POST"]),
            Route("/api/v1/runs/{run_id}/retry", api.retry, methods=["POST"]),
            Route("/api/v1/openapi.json", api.openapi, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404 and 405 (a POST to no write endpoint), as JSON like every answer."""
    assert isinstance(exc, HTTPException)
    hint = "the write endpoints are in GET /api/v1/openapi.json"
    refused = Refused(exc.status_code, str(exc.detail), hint, **dict(exc.headers or {}))
    return _error(refused)


class WriteApi:
    def __init__(
        self,
        state_dir: Path,
        get_snapshot: SnapshotSource,
        wake: Callable[[], object],
        limiter: RateLimiter,
    ) -> None:
        self.spool, self.tokens = RequestSpool(state_dir), TokenStore(state_dir)
        self.get_snapshot, self.wake, self.limiter = get_snapshot, wake, limiter

    async def trigger(self, request: Request) -> JSONResponse:
        return await self._answer(request, self._trigger)

    async def cancel(self, request: Request) -> JSONResponse:
        return await self._answer(request, self._cancel)

    async def retry(self, request: Request) -> JSONResponse:
        return await self._answer(request, self._retry)

    async def openapi(self, request: Request) -> JSONResponse:
        return JSONResponse(document())

    async def _answer(
        self, request: Request, action: Callable[[Request, Token], dict[str, Any]]
    ) -> JSONResponse:
        try:
            token = self._gate(request)
            body = action(request, token)
        except Refused as exc:
            return _error(exc)
        except OvenError as exc:  # the token file cannot be read
            log.error("api: %s %s: %s", request.method, request.url.path, exc.message)
            return _error(Refused(503, exc.message, exc.hint or "see the reconciler's log"))
        except OSError as exc:  # the spool cannot be written (disk full, permissions)
            log.error(
                "api: %s %s: cannot write the spool: %s", request.method, request.url.path, exc
            )
            return _error(
                Refused(503, f"cannot write the request: {exc}", "see the reconciler's log")
            )
        self.wake()
        return JSONResponse(body, status_code=202, headers={"Cache-Control": "no-store"})

    def _gate(self, request: Request) -> Token:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        token = self.tokens.lookup(presented.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            log.warning("api: %s %s refused: no valid token", request.method, request.url.path)
            raise Refused(
                401,
                "missing, unknown or revoked token",
                "send Authorization: Bearer <token> (oven token create makes one)",
                **{"WWW-Authenticate": 'Bearer realm="oven"'},
            )
        wait = self.limiter.take(token.name)
        if wait:
            log.warning("api: token %s over its rate limit; retry in %ds", token.name, wait)
            raise Refused(
                429,
                f"token {token.name} is over its rate limit",
                f"retry in {wait}s",
                **{"Retry-After": str(wait)},
            )
        return token

    # -- the three writes -------------------------------------------------------------------
    def _trigger(self, request: Request, token: Token) -> dict[str, Any]:
        job_id = request.path_params["job_id"]
        key = request.headers.get("idempotency-key")
        if key is not None and not KEY.fullmatch(key):
            raise Refused(
                400, "bad Idempotency-Key", "use 1-128 printable ASCII characters without spaces"
            )
        _allow(token, job_id)
        if job_id not in self._job_ids():
            raise Refused(404, f"no job {job_id!r}", "GET /api/v1/jobs lists the job ids")
        sent = self.spool.submit_manual(job_id, key, trigger="webhook", requested_by=token.name)
        log.info(
            "api: token %s %s run %s of job %s",
            token.name,
            "requested" if sent.new else "repeated the request for",
            sent.run_id,
            job_id,
        )
        return {
            "run_id": sent.run_id,
            "job_id": job_id,
            "idempotency_key": sent.key,
            "already_requested": not sent.new,
            "status_url": f"/api/v1/runs/{sent.run_id}",
        }

    def _cancel(self, request: Request, token: Token) -> dict[str, Any]:
        run = self._run(request, token)
        if run.get("status") != "running":
            raise Refused(
                409,
                f"run {run['run_id']} is {run.get('status')}, not running",
                "only a running run can be cancelled",
            )
        self.spool.submit_cancel(run["job_id"], run["run_id"], requested_by=token.name)
        log.info("api: token %s requested cancel of run %s", token.name, run["run_id"])
        return {"run_id": run["run_id"], "job_id": run["job_id"], "requested": "cancel"}

    def _retry(self, request: Request, token: Token) -> dict[str, Any]:
        run = self._run(request, token)
        if run.get("status") not in RETRYABLE:
            raise Refused(
                409,
                f"run {run['run_id']} is {run.get('status')}",
                "only a failed, timed_out or cancelled run can be retried",
            )
        attempt = int(run.get("attempt") or 1)
        target = next_attempt_id(run["run_id"], attempt, run.get("retry_of"))
        snapshot_has = target in self._snapshot().runs
        new = not snapshot_has and self.spool.submit_retry(
            run["job_id"], run["run_id"], target, requested_by=token.name
        )
        log.info(
            "api: token %s %s retry of run %s as %s",
            token.name,
            "requested" if new else "repeated the",
            run["run_id"],
            target,
        )
        return {
            "run_id": target,
            "retry_of": run["run_id"],
            "job_id": run["job_id"],
            "attempt": attempt + 1,
            "already_requested": not new,
            "status_url": f"/api/v1/runs/{target}",
        }

    # -- lookups ----------------------------------------------------------------------------
    def _run(self, request: Request, token: Token) -> dict[str, Any]:
        run_id = request.path_params["run_id"]
        run = self._snapshot().runs.get(run_id)
        if run is None:
            raise Refused(404, f"no run {run_id!r}", "GET /api/v1/runs lists recent runs")
        _allow(token, str(run.get("job_id")))
        return {**run, "run_id": run_id}

    def _job_ids(self) -> set[str]:
        known = self.spool.known_jobs()
        return set(known.job_ids) if known is not None else set(self._snapshot().jobs)

    def _snapshot(self) -> Snapshot:
        try:
            return self.get_snapshot()
        except Exception as exc:  # the read model is someone else's code: answer, never crash
            log.exception("api: snapshot source failed")
            raise Refused(
                503, f"status is not available: {exc}", "see the reconciler's log"
            ) from exc


def _allow(token: Token, job_id: str) -> None:
    if not token.allows(job_id):
        log.warning("api: token %s refused for job %s (scope %s)", token.name, job_id, token.jobs)
        raise Refused(
            403,
            f"token {token.name} may not act on job {job_id!r}",
            f"its scope is {', '.join(token.jobs)}; create a token with --job {job_id}",
        )


def _error(exc: Refused) -> JSONResponse:
    body = {"error": {"status": exc.status, "message": exc.message, "hint": exc.hint}}
    headers = {"Cache-Control": "no-store", **exc.headers}
    return JSONResponse(body, status_code=exc.status, headers=headers)
