"""Fixtures for the write API tests (helpers in ``support/write_api.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.write_api import Api, serve_api

from reconciler.api.ratelimit import RateLimiter


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    served, handle = serve_api(tmp_path, RateLimiter(per_minute=6000, burst=1000))
    yield served
    handle.stop()


@pytest.fixture
def limited_api(tmp_path: Path) -> Iterator[Api]:
    """A write API whose tokens may make 3 requests at once, then one a minute."""
    served, handle = serve_api(tmp_path, RateLimiter(per_minute=1, burst=3))
    yield served
    handle.stop()
