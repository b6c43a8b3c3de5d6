"""Shared fixtures: both anyio backends, a clean environment, a loopback sink, figures."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sink import Sink

pytest_plugins = ("tests.server.backend_fixtures",)

_FIGURES: list[str] = []


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees AGENTSIGHT_* variables it did not set itself."""
    import os

    for name in list(os.environ):
        if name.startswith("AGENTSIGHT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def figures() -> Any:
    """Record a figure a test measured; the run prints them all at the end."""

    def record(line: str) -> None:
        _FIGURES.append(line)

    return record


@pytest.fixture(autouse=True)
def agentsight_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentsight")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("figures measured by the tests")
        for line in _FIGURES:
            terminalreporter.write_line(line)
