"""Fixtures of the fault-injection suite: a restartable real collector on a fixed port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.collector import CollectorProcess
from tests.faults.proxy import FaultProxy
from tests.sink import free_port


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(tmp_path / "collector.db", port=free_port())
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def proxy(collector: CollectorProcess) -> Iterator[FaultProxy]:
    server = FaultProxy(collector.url).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
