"""The OpenAPI 3 document of ``/api/v1``: the read endpoints and the write endpoints.

Written by hand, beside the code it describes (``reconciler/web/api.py`` for reads,
``reconciler/api/app.py`` for writes); ``tests/api/test_openapi.py`` checks that every route
of both apps is in it and fuzzes it with schemathesis against a real server.
"""

from __future__ import annotations

from typing import Any

RUN_STATUSES = ["running", "succeeded", "failed", "timed_out", "cancelled", "skipped"]
_ID = {"type": "string", "minLength": 1, "maxLength": 200}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = _json(_ref("schemas/Error"), "an error, with a hint")
_OBJECT = {"type": "object"}


def _read(summary: str, *params: dict[str, Any], missing: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json(_OBJECT, "the answer")}
    responses["400" if params and not missing else "404"] = _ERROR
    if missing:
        responses["404"] = _ERROR
    return {"get": {"summary": summary, "parameters": list(params), "responses": responses}}


def _log() -> dict[str, Any]:
    """The run's redacted log from a byte offset: the live log while it runs (docs/web.md)."""
    header = {"schema": {"type": "string"}}
    text = {
        "description": "the bytes from offset on, at most 1 MiB",
        "headers": {"X-Oven-Log-Offset": header, "X-Oven-Log-Final": header},
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    offset = _query("offset", "byte to start from (default 0)", {"type": "integer", "minimum": 0})
    return {
        "get": {
            "summary": "a run's log from a byte offset, followed while the run runs",
            "parameters": [_path_param("run_id"), offset],
            "responses": {"200": text, "400": _ERROR, "404": _ERROR},
        }
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _ID}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _write(summary: str, param: str, answer: str, *, key: bool = False) -> dict[str, Any]:
    parameters = [_path_param(param)]
    if key:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "the same key answers the same run id and starts one run only",
                "schema": {"type": "string", "pattern": "^[!-~]{1,128}$"},
            }
        )
    responses = {
        "202": _json(_ref(f"schemas/{answer}"), "requested: the daemon acts on its next tick"),
        "400": _ERROR,
        "401": _ERROR,
        "403": _ERROR,
        "404": _ERROR,
        "429": _ERROR,
    }
    if not key:
        responses["409"] = _ERROR
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": parameters,
            "responses": responses,
        }
    }


def _job_page() -> tuple[dict[str, Any], ...]:
    return (
        _query("offset", "skip this many jobs (by id)", {"type": "integer", "minimum": 0}),
        _query("limit", "at most this many jobs (default all)", {"type": "integer"}),
    )


def document() -> dict[str, Any]:
    """The OpenAPI 3.0 document, as plain data."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Agent Oven API",
            "version": "1",
            "description": "Read endpoints are always served; write endpoints (POST) only by "
            "`oven run --write-api`, with a bearer token from `oven token create`. docs/api.md",
        },
        "paths": {
            "/api/v1/jobs": _read("every job with its summary", *_job_page()),
            "/api/v1/jobs/{job_id}": _read("one job", _path_param("job_id"), missing=True),
            "/api/v1/runs": _read(
                "recent runs, newest first, without log tails",
                _query("job", "only this job's runs", _ID),
                _query("status", "comma-separated statuses", {"type": "string"}),
                _query(
                    "since", "ISO 8601 time: only runs started at or after it", {"type": "string"}
                ),
                _query("limit", "at most this many runs", {"type": "integer"}),
            ),
            "/api/v1/runs/{run_id}": _read(
                "one run, with its log tail", _path_param("run_id"), missing=True
            ),
            "/api/v1/runs/{run_id}/log": _log(),
            "/api/v1/health": _read("counts of jobs and runs by state"),
            "/api/v1/snapshot": _read("what the overview page shows", *_job_page()),
            "/api/v1/jobs/{job_id}/runs": _write(
                "start a run of a job now (trigger `webhook`)", "job_id", "Triggered", key=True
            ),
            "/api/v1/runs/{run_id}/cancel": _write(
                "stop a running run; it ends cancelled", "run_id", "Cancelled"
            ),
            "/api/v1/runs/{run_id}/retry": _write(
                "start the next attempt of an ended failed, timed_out or cancelled run",
                "run_id",
                "Retried",
            ),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    text, flag = {"type": "string"}, {"type": "boolean"}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["status", "message", "hint"],
                    "properties": {"status": {"type": "integer"}, "message": text, "hint": text},
                }
            },
        },
        "Triggered": {
            "type": "object",
            "required": ["run_id", "job_id", "idempotency_key", "already_requested"],
            "properties": {
                "run_id": text,
                "job_id": text,
                "idempotency_key": text,
                "already_requested": flag,
                "status_url": text,
            },
        },
        "Cancelled": {
            "type": "object",
            "required": ["run_id", "job_id", "requested"],
            "properties": {"run_id": text, "job_id": text, "requested": text},
        },
        "Retried": {
            "type": "object",
            "required": ["run_id", "retry_of", "attempt", "already_requested"],
            "properties": {
                "run_id": text,
                "retry_of": text,
                "job_id": text,
                "attempt": {"type": "integer"},
                "already_requested": flag,
                "status_url": text,
            },
        },
    }
