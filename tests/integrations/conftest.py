"""Fixtures of the integration tests: a real collector process shared by a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentsight import ConversationTracker
from tests.e2e.collector import CollectorProcess


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One ``agentsight serve`` for the module; tests use conversation ids of their own."""
    process = CollectorProcess(tmp_path_factory.mktemp("collector") / "collector.db")
    try:
        yield process
    finally:
        assert process.stop() == 0, "".join(process.log)


def collector_tracker(collector: CollectorProcess) -> ConversationTracker:
    """A tracker sending to *collector*'s project A, with short batches."""
    return ConversationTracker(
        api_key=collector.keys["A"], endpoint=collector.url, flush_interval=0.02
    )
