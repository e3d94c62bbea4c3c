"""The write API over a real uvicorn server, a real spool and a real token file.

Every endpoint: a missing, wrong or revoked token is 401, a token for another job 403, an
unknown job or run 404, a bad idempotency key 400, a run in the wrong state 409, a token over
its rate limit 429 with ``Retry-After``. An accepted write is one spool request, wakes the
daemon, and is logged with the token's name, never the token.
"""

from __future__ import annotations

import json
import logging
import stat

import httpx
import pytest
from support.write_api import Api, snapshot

from reconciler.api.tokens import TokenStore
from reconciler.runids import manual_run_id
from reconciler.web.app import create_app
from reconciler.web.server import serve_in_thread

WRITES = [
    "/api/v1/jobs/deploy/runs",
    "/api/v1/runs/deploy-20260301-110000/cancel",
    "/api/v1/runs/deploy-20260301-100000/retry",
]


def error(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()["error"]
    assert body["status"] == response.status_code and body["message"] and body["hint"]
    return body


@pytest.mark.parametrize("path", WRITES)
@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer oven_not-a-token", "Basic YWRtaW46YWRtaW4=", "bearer x y"],
)
def test_a_missing_or_wrong_token_is_401_and_nothing_is_spooled(
    api: Api, path: str, authorization: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.post(api.url + path, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "token" in str(error(response)["message"])
    assert api.requests() == [] and api.wakes == []


@pytest.mark.parametrize("path", WRITES)
def test_a_revoked_token_is_401_from_the_next_request_on(api: Api, path: str) -> None:
    assert TokenStore(api.state_dir).revoke("admin")
    assert api.post(path).status_code == 401
    assert api.post(path, token="ci").status_code == 202  # the other token still works


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/jobs/report/runs",
        "/api/v1/runs/report-20260301-100000/retry",
        "/api/v1/runs/report-20260301-100000/cancel",
    ],
)
def test_a_token_for_another_job_is_403(api: Api, path: str) -> None:
    response = api.post(path, token="ci")
    assert response.status_code == 403
    assert "deploy" in str(error(response)["hint"])
    assert api.requests() == []


@pytest.mark.parametrize(
    "path",
    ["/api/v1/jobs/nope/runs", "/api/v1/runs/nope-1/cancel", "/api/v1/runs/nope-1/retry"],
)
def test_an_unknown_job_or_run_is_404(api: Api, path: str) -> None:
    response = api.post(path)
    assert response.status_code == 404 and "nope" in str(error(response)["message"])
    assert api.requests() == []


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "tab\there"])
def test_a_bad_idempotency_key_is_400(api: Api, key: str) -> None:
    response = api.post("/api/v1/jobs/deploy/runs", **{"Idempotency-Key": key})
    assert response.status_code == 400 and "Idempotency-Key" in str(error(response)["message"])


def test_trigger_answers_202_with_the_run_id_and_spools_one_webhook_request(api: Api) -> None:
    response = api.post("/api/v1/jobs/deploy/runs", token="ci", **{"Idempotency-Key": "d-1"})
    assert response.status_code == 202
    body = response.json()
    assert body == {
        "run_id": manual_run_id("deploy", "d-1", None),  # type: ignore[arg-type]
        "job_id": "deploy",
        "idempotency_key": "d-1",
        "already_requested": False,
        "status_url": f"/api/v1/runs/{body['run_id']}",
    }
    [request] = api.requests()
    assert json.loads(request.read_text()) == {
        "kind": "manual",
        "job_id": "deploy",
        "idempotency_key": "d-1",
        "trigger": "webhook",
        "requested_by": "ci",
    }
    assert api.wakes == [1]


def test_the_same_idempotency_key_answers_the_same_run_and_spools_once(api: Api) -> None:
    answers = [
        api.post("/api/v1/jobs/deploy/runs", **{"Idempotency-Key": "same"}).json() for _ in range(3)
    ]
    assert len({a["run_id"] for a in answers}) == 1
    assert [a["already_requested"] for a in answers] == [False, True, True]
    assert len(api.requests()) == 1


def test_without_a_key_every_trigger_is_a_new_run(api: Api) -> None:
    first = api.post("/api/v1/jobs/deploy/runs").json()
    second = api.post("/api/v1/jobs/deploy/runs").json()
    assert first["run_id"] != second["run_id"] and len(api.requests()) == 2


def test_cancel_of_a_running_run_spools_a_cancel(api: Api) -> None:
    response = api.post("/api/v1/runs/deploy-20260301-110000/cancel", token="ci")
    assert response.status_code == 202
    assert response.json() == {
        "run_id": "deploy-20260301-110000",
        "job_id": "deploy",
        "requested": "cancel",
    }
    [request] = api.requests()
    assert json.loads(request.read_text()) == {
        "kind": "cancel",
        "job_id": "deploy",
        "run_id": "deploy-20260301-110000",
        "requested_by": "ci",
    }


@pytest.mark.parametrize("run_id", ["deploy-20260301-100000", "deploy-20260301-090000"])
def test_cancel_of_an_ended_run_is_409(api: Api, run_id: str) -> None:
    response = api.post(f"/api/v1/runs/{run_id}/cancel")
    assert response.status_code == 409 and "not running" in str(error(response)["message"])


@pytest.mark.parametrize(
    ("run_id", "target", "attempt"),
    [
        ("deploy-20260301-100000", "deploy-20260301-100000-a2", 2),  # failed
        ("deploy-20260301-080000", "deploy-20260301-080000-a2", 2),  # cancelled
        ("deploy-20260301-070000-a2", "deploy-20260301-070000-a3", 3),  # timed out, attempt 2
    ],
)
def test_retry_of_an_ended_run_answers_attempt_n_plus_1(
    api: Api, run_id: str, target: str, attempt: int
) -> None:
    response = api.post(f"/api/v1/runs/{run_id}/retry", token="ci")
    assert response.status_code == 202
    body = response.json()
    assert (body["run_id"], body["attempt"], body["retry_of"]) == (target, attempt, run_id)
    assert body["already_requested"] is False
    again = api.post(f"/api/v1/runs/{run_id}/retry", token="ci").json()
    assert again["run_id"] == target and again["already_requested"] is True
    [request] = api.requests()
    assert json.loads(request.read_text())["target"] == target


@pytest.mark.parametrize(
    ("run_id", "status"),
    [("deploy-20260301-110000", "running"), ("deploy-20260301-090000", "succeeded")],
)
def test_retry_of_a_running_or_succeeded_run_is_409(api: Api, run_id: str, status: str) -> None:
    response = api.post(f"/api/v1/runs/{run_id}/retry")
    assert response.status_code == 409 and status in str(error(response)["message"])
    assert api.requests() == []


def test_over_the_rate_limit_is_429_with_retry_after(limited_api: Api) -> None:
    path = "/api/v1/jobs/deploy/runs"
    statuses = [limited_api.post(path, token="ci").status_code for _ in range(3)]
    assert statuses == [202, 202, 202]
    refused = limited_api.post(path, token="ci")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "rate limit" in str(error(refused)["message"])
    assert limited_api.post(path, token="admin").status_code == 202  # per token
    assert len(limited_api.requests()) == 4


def test_every_write_is_logged_with_the_token_name_never_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="oven.api")
    api.post("/api/v1/jobs/deploy/runs", token="ci")
    api.post("/api/v1/runs/deploy-20260301-110000/cancel", token="ci")
    api.post("/api/v1/runs/deploy-20260301-100000/retry", token="ci")
    api.post("/api/v1/jobs/report/runs", token="ci")
    writes = [r.getMessage() for r in caplog.records if r.name == "oven.api"]
    assert len(writes) == 4 and all("token ci " in line for line in writes), writes
    for text in api.tokens.values():
        assert text not in caplog.text
        assert text not in (api.state_dir / "api-tokens.json").read_text()
        assert text not in "".join(p.read_text() for p in api.requests())


def test_the_token_file_is_0600_and_holds_hashes_only(api: Api) -> None:
    path = api.state_dir / "api-tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())["tokens"]
    assert [t["name"] for t in stored] == ["admin", "ci"]
    assert all(len(t["sha256"]) == 64 for t in stored)


def test_without_the_write_api_the_posts_answer_404_or_405(api: Api) -> None:
    handle = serve_in_thread(create_app(snapshot))
    try:
        for path in WRITES:
            response = httpx.post(handle.url + path, headers={"Authorization": "Bearer x"})
            assert response.status_code in (404, 405), path
        assert httpx.get(handle.url + "/api/v1/openapi.json").status_code == 404
        assert httpx.post(handle.url + "/api/v1/jobs").status_code == 405
    finally:
        handle.stop()


def test_the_pages_and_read_api_still_answer_beside_the_write_api(api: Api) -> None:
    assert httpx.get(api.url + "/api/v1/jobs").json()["count"] == 2
    assert httpx.get(api.url + "/api/v1/runs/deploy-20260301-110000").status_code == 200
    assert httpx.get(api.url + "/").status_code == 200


def test_a_post_to_no_write_endpoint_is_a_json_404(api: Api) -> None:
    response = api.post("/api/v1/jobs")
    assert response.status_code == 404 and "openapi.json" in str(error(response)["hint"])


def test_a_spool_that_cannot_be_written_is_503_with_a_hint(api: Api) -> None:
    (api.state_dir / "requests" / "keys").write_text("a file where the claims directory goes")
    response = api.post("/api/v1/jobs/deploy/runs")
    assert response.status_code == 503 and "cannot write" in str(error(response)["message"])
    assert api.requests() == []


def test_a_damaged_token_file_is_503_not_a_crash(api: Api) -> None:
    (api.state_dir / "api-tokens.json").write_text("{damaged")
    response = api.post("/api/v1/jobs/deploy/runs")
    assert response.status_code == 503 and "cannot read the API tokens" in str(
        error(response)["message"]
    )
