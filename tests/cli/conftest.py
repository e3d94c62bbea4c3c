"""Every CLI test starts without ``OVEN_*`` variables, so a developer's shell cannot change it."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def no_oven_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("OVEN_")]:
        monkeypatch.delenv(name)
