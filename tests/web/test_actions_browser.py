"""Cancel and retry on the run page, in a real browser: buttons only with a write token.

The write API is another engineer's app; here a stand-in route served beside the pages (by a
real uvicorn server, through ``extra_routes``) records what the page sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reconciler.web.app import create_app
from reconciler.web.server import ServerHandle, serve_in_thread

from .test_browser import (  # noqa: F401 (browser is a fixture)
    RUNNING,
    browser,
    console_errors,
    text_of,
    wait_for,
)

FAILED = "backup-20260301-095500"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811 (the fixture imported above)
    """The module's browser on a blank page, its console log and session storage empty."""
    browser.get("about:blank")
    browser.get_log("browser")
    yield browser
    browser.get("about:blank")


@pytest.fixture
def seen() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def write_server(box: Any, seen: list[tuple[str, str]]) -> Iterator[ServerHandle]:
    async def act(request: Request) -> JSONResponse:
        seen.append((request.url.path, request.headers.get("authorization", "")))
        if request.headers.get("authorization") != "Bearer tok-123":
            body = {"error": {"status": 401, "message": "unknown token", "hint": "create one"}}
            return JSONResponse(body, status_code=401)
        return JSONResponse({"run_id": "backup-retry-2"}, status_code=202)

    stand_in = [Route("/api/v1/runs/{run_id}/{kind:str}", act, methods=["POST"])]
    handle = serve_in_thread(create_app(box, extra_routes=stand_in, write_api=True))
    yield handle
    handle.stop()


def visible(d: Any, element_id: str) -> bool:
    return bool(d.find_element("id", element_id).is_displayed())


def use_token(d: Any, token: str) -> None:
    d.find_element("css selector", "#token-box summary").click()
    d.find_element("id", "token-input").send_keys(token)
    d.find_element("id", "token-save").click()


def test_buttons_appear_with_a_token_and_send_it_as_a_bearer(
    page: Any, write_server: ServerHandle, seen: list[tuple[str, str]]
) -> None:
    driver = page
    driver.get(f"{write_server.url}/runs/{RUNNING}")
    wait_for(driver, lambda d: text_of(d, "#live").startswith("live"), "the page to go live")
    assert not visible(driver, "cancel-run") and not visible(driver, "retry-run")
    use_token(driver, "tok-123")
    wait_for(driver, lambda d: visible(d, "cancel-run"), "the cancel button")
    assert not visible(driver, "retry-run"), "a running run is cancelled, not retried"
    driver.find_element("id", "cancel-run").click()
    wait_for(driver, lambda d: "cancel requested" in text_of(d, "#action-result"), "the answer")
    assert seen == [(f"/api/v1/runs/{RUNNING}/cancel", "Bearer tok-123")]

    driver.get(f"{write_server.url}/runs/{FAILED}")  # the token stays for the tab
    wait_for(driver, lambda d: visible(d, "retry-run"), "the retry button")
    driver.find_element("id", "retry-run").click()
    wait_for(driver, lambda d: "backup-retry-2" in text_of(d, "#action-result"), "the new run")
    driver.find_element("css selector", "#token-box summary").click()
    driver.find_element("id", "token-forget").click()
    assert not visible(driver, "retry-run")
    assert driver.execute_script("return sessionStorage.getItem('oven-write-token')") is None
    assert console_errors(driver) == []


def test_a_refused_token_shows_the_message_and_hint(page: Any, write_server: ServerHandle) -> None:
    driver = page
    driver.get(f"{write_server.url}/runs/{FAILED}")
    use_token(driver, "wrong")
    wait_for(driver, lambda d: visible(d, "retry-run"), "the retry button")
    driver.find_element("id", "retry-run").click()
    wait_for(driver, lambda d: "refused (401)" in text_of(d, "#action-result"), "the refusal")
    assert "unknown token" in text_of(driver, "#action-result")
    assert "hint: create one" in text_of(driver, "#action-result")
    driver.execute_script("sessionStorage.clear()")
