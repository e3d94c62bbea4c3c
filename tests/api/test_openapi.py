"""The OpenAPI document: it describes every route of the read API and of the write API, and a
schemathesis fuzz run from it against a real uvicorn server, with a real token, finds no 5xx.

The normal tests run a bounded slice (``OVEN_API_FUZZ_EXAMPLES``, default 25 per endpoint);
``make fuzz-api`` runs many more.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from support.write_api import Api, serve_api, snapshot

from reconciler.api import create_api_app
from reconciler.api.openapi import document
from reconciler.api.ratelimit import RateLimiter
from reconciler.web.app import create_app

EXAMPLES = int(os.environ.get("OVEN_API_FUZZ_EXAMPLES", "25"))


def paths_of(app: object) -> set[tuple[str, str]]:
    found = set()
    for route in getattr(app, "routes", []):
        methods = set(getattr(route, "methods", None) or ()) - {"HEAD"}
        path = getattr(route, "path", "")
        if path.startswith("/api/v1/"):
            found |= {(method.lower(), re.sub(r"\{(\w+)\}", r"{\1}", path)) for method in methods}
    return found


def test_every_api_route_is_in_the_document_and_nothing_else(tmp_path: object) -> None:
    read = paths_of(create_app(snapshot))
    write = paths_of(create_api_app(tmp_path, snapshot))  # type: ignore[arg-type]
    described = {(m, p) for p, ops in document()["paths"].items() for m in ops}
    assert described == (read | write) - {("get", "/api/v1/openapi.json")}


def test_the_document_is_served_and_is_valid_openapi(api: Api) -> None:
    served = httpx.get(api.url + "/api/v1/openapi.json").json()
    assert served == document()
    schema = schemathesis.openapi.from_dict(served)
    assert len(list(schema.get_all_operations())) == len(
        [op for ops in served["paths"].values() for op in ops]
    )


@pytest.fixture
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    served, handle = serve_api(
        tmp_path_factory.mktemp("fuzz"), RateLimiter(per_minute=10**6, burst=10**6)
    )
    yield served
    handle.stop()


def test_fuzzing_every_endpoint_from_the_document_finds_no_server_error(fuzzed: Api) -> None:
    schema = schemathesis.openapi.from_dict(document())
    token = {"Authorization": f"Bearer {fuzzed.tokens['admin']}"}
    seen: set[int] = set()
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            headers = {**(case.headers or {}), **token}
            response = case.call(base_url=fuzzed.url, headers=headers, timeout=10)
            seen.add(response.status_code)
            assert response.status_code < 500, case.as_curl_command(headers=headers)

        fuzz()
    assert {200, 404} <= seen, seen  # the fuzzing reached the endpoints, not just the gate
