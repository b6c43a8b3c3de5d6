"""Fixtures of the API client tests: a real ``agentsight serve`` process, keys, seeding.

One collector process serves the whole session (projects A, B and ``data``);
tests keep apart by fresh conversation ids and customer ids, and the filter
tests read a known data set in a project of their own.
"""

from __future__ import annotations

import datetime as dt
import queue
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from agentsight import ConversationTracker
from agentsight.api import agentsight_api, conversation_manager

CLI = [sys.executable, "-m", "agentsight._cli"]
LISTENING = re.compile(r"agentsight collector listening on (http://127\.0\.0\.1:\d+)")


@attrs.frozen
class Served:
    """The running collector: its URL and one key per project."""

    url: str
    keys: dict[str, str]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """aiohttp runs on asyncio; the one trio test parametrises its own backend."""
    return "asyncio"


def _create_key(db: Path, project: str) -> str:
    result = subprocess.run(
        [*CLI, "keys", "create", "--db", str(db), "--project", project, "--scope", "admin"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return result.stdout.decode().splitlines()[-1]


def _drain(stream: Any, lines: queue.Queue[str]) -> None:
    for raw in stream:  # keep reading, so the server never blocks on a full pipe
        lines.put(raw.decode(errors="replace"))


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``agentsight serve --port 0`` on a fresh SQLite file, with keys for A, B and data."""
    db = tmp_path_factory.mktemp("collector") / "api.db"
    keys = {project: _create_key(db, project) for project in ("A", "B", "data")}
    process = subprocess.Popen(
        [*CLI, "serve", "--db", str(db), "--port", "0"], stderr=subprocess.PIPE
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_drain, args=(process.stderr, lines), daemon=True).start()
    try:
        while (match := LISTENING.search(lines.get(timeout=30))) is None:
            pass
        yield Served(match.group(1), keys)
    finally:
        process.terminate()
        process.wait(20)
        assert process.stderr is not None
        process.stderr.close()


def new_id(prefix: str = "c") -> str:
    """A conversation or customer id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def track(served: Served, *conversations: dict[str, Any], project: str = "A") -> None:
    """Track *conversations* with the real SDK and wait until the collector stored them.

    Each is the keyword arguments of ``get_or_create_conversation`` plus
    optional ``messages`` (list of str, alternating user and agent) and
    ``used=False`` for ``initialize_conversation``.
    """
    tracker = ConversationTracker(api_key=served.keys[project], endpoint=served.url)
    async with tracker:
        for spec in conversations:
            attributes = dict(spec)
            messages = attributes.pop("messages", [])
            if attributes.pop("used", True):
                await tracker.get_or_create_conversation(**attributes)
            else:
                await tracker.initialize_conversation(**attributes)
            for index, text in enumerate(messages):
                if index % 2:
                    await tracker.track_agent_message(text)
                else:
                    await tracker.track_human_message(text)
            report = await tracker.send_tracked_data()
            assert report.pending == report.failed == 0 and not report.rejected, report
    stats = tracker.stats()
    assert stats.sent == stats.accepted > 0 and stats.dropped == 0, stats


@pytest.fixture(scope="session")
async def dataset(served: Served) -> dict[str, Any]:
    """A known data set in project ``data``: five conversations, the first two earlier."""
    first: list[dict[str, Any]] = [
        dict(
            conversation_id="d1",
            customer_id="u1",
            source="web",
            device="desktop",
            language="en",
            environment="production",
            customer_ip_address="8.8.8.8",
            messages=["where is my parcel", "on its way"],
        ),
        dict(conversation_id="d2", customer_id="u2", source="whatsapp", device="mobile"),
    ]
    later: list[dict[str, Any]] = [
        dict(
            conversation_id="d3",
            customer_id="u1",
            source="web",
            device="mobile",
            language="es",
            customer_ip_address="81.2.69.160",
            messages=["hola", "Parcel sent"],
        ),
        dict(conversation_id="d4", source="telegram", environment="production", used=False),
        dict(conversation_id="d5", customer_id="u3", source="web", language="en"),
    ]
    await track(served, *first, project="data")
    middle = dt.datetime.now(dt.timezone.utc)
    await track(served, *later, project="data")
    return {"middle": middle, "after": dt.datetime.now(dt.timezone.utc)}


@pytest.fixture
def module_clients(served: Served) -> Iterator[None]:
    """``agentsight_api`` and ``conversation_manager`` pointed at the collector (project A)."""
    for instance in (agentsight_api, conversation_manager):
        instance.configure(api_key=served.keys["A"], endpoint=served.url)
    yield
    for instance in (agentsight_api, conversation_manager):
        instance.close().result(10)
        instance.configure()
